import Kernels
import XCTest

/// gg_conv2d_ep_f32 and gg_conv2d_bwd_data_ep_f32 must equal the plain
/// convolution followed by gg_fused_f32 with the same program over the output,
/// bit for bit, on every path (implicit GEMM and per image) and thread count.
final class ConvEpilogueTests: XCTestCase {
    /// pre = out + bias[channel] stored back into out; act = leaky_relu(pre) into a second output.
    private func withBiasLeakyRelu<R>(out: AlignedBuffer, act: AlignedBuffer, bias: AlignedBuffer,
                                      shape: [Int64], _ body: (UnsafePointer<gg_fprogram>) -> R) -> R {
        let instr = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                     finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 0, a: 0, b: 1),
                     finstr(GG_FOP_STORE, dst: 0, a: 0),
                     finstr(GG_FOP_UNARY, Int32(GG_UNARY_LEAKY_RELU.rawValue), dst: 1, a: 0, p0: 0.2),
                     finstr(GG_FOP_STORE, dst: 1, a: 1)]
        let (c, h, w) = (shape[1], shape[2], shape[3])
        let dense: [Int64] = [c * h * w, h * w, w, 1]
        let inputs: [UnsafePointer<Float>?] = [UnsafePointer(out.pointer), UnsafePointer(bias.pointer)]
        let outputs: [UnsafeMutablePointer<Float>?] = [out.pointer, act.pointer]
        let inSt: [Int64] = dense + [0, 1, 0, 0]
        let outSt: [Int64] = dense + dense
        return withFusedProgram(instr, nregs: 2, shape: shape, inputs: inputs, inStrides: inSt,
                                outputs: outputs, outStrides: outSt, body)
    }

    /// Implicit-GEMM shapes (enough channels, stride <= 2: panels that straddle images, uneven
    /// phases) and per-image ones (thin layers, stride 3, 1x1).
    private var shapes: [gg_conv2d_shape] {
        [convShape(3, 9, 11, 13, 17, 3, 1, 1), convShape(5, 16, 9, 9, 24, 4, 2, 1), convShape(4, 64, 7, 7, 64, 4, 2, 1),
         convShape(2, 8, 13, 13, 16, 3, 2, 0), convShape(20, 1, 13, 11, 6, 3, 2, 1), convShape(3, 2, 10, 9, 3, 3, 3, 1),
         convShape(9, 7, 7, 7, 5, 1, 1, 0)]
    }

    /// The fused kernel with the epilogue on `threads` threads: (pre-activation, activation).
    private func fastWithEpilogue(_ pr: inout ConvEpilogueProblem, threads: Int32) -> [[Float]] {
        let out = AlignedBuffer(count: pr.count, fill: .nan), act = AlignedBuffer(count: pr.count, fill: .nan)
        let st: gg_status = withBiasLeakyRelu(out: out, act: act, bias: pr.bias, shape: pr.outShape) { p in
            var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: threads, scratchFloats: Int(gg_conv2d_ep_f32_scratch(&probe, &pr.s, p)))
            return pr.withEpilogue(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
        }
        XCTAssertEqual(st, GG_OK, pr.what)
        return [out.array, act.array]
    }

    private func check(backward: Bool) {
        for (i, s) in shapes.enumerated() {
            var pr = ConvEpilogueProblem(s, backward: backward, seed: 77 + UInt64(i))
            assertSameOnThreadCounts(threadCounts, "\(pr.what) shape \(i)") { threads in
                let what = "\(pr.what) shape \(i) threads \(threads)"
                let fused = fastWithEpilogue(&pr, threads: threads)
                let out2 = AlignedBuffer(count: pr.count, fill: .nan), act2 = AlignedBuffer(count: pr.count, fill: .nan)
                let st2: gg_status = withBiasLeakyRelu(out: out2, act: act2, bias: pr.bias, shape: pr.outShape) { p in
                    var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                    let need = max(Int(gg_conv2d_f32_scratch(&probe, &pr.s)), Int(gg_fused_f32_scratch(&probe, p)))
                    let tc = TestContext(threads: threads, scratchFloats: need)
                    let st = pr.convolve(&tc.ctx, out2, reference: false)
                    return st == GG_OK ? gg_fused_f32(&tc.ctx, p) : st
                }
                XCTAssertEqual(st2, GG_OK, what)
                assertBitIdentical(fused[0], out2.array, "pre-activation " + what)
                assertBitIdentical(fused[1], act2.array, "activation " + what)
                return fused
            }
        }
    }

    func testForwardEpilogueEqualsConvThenFused() { check(backward: false) }

    func testDataGradientEpilogueEqualsConvThenFused() { check(backward: true) }

    /// Against compositions of scalar references. gg_conv2d_(bwd_data_)ep_f32_ref (the reference
    /// convolution, then gg_fused_f32_ref of the epilogue) sums in double, the kernels in float in
    /// their own order. An output element is a sum of at most K products (K = c*kh*kw forward,
    /// oc*kh*kw for the data gradient) plus the bias, then leaky relu: the kernel rounds each term at
    /// most 2K + 3 times (its product, the additions of its K block, a scaling and a carry per block,
    /// the bias add, the activation's product), the reference at most 6 times (its double sum once,
    /// the scaling, the bias add, the activation), so the two differ by at most gamma(2K + 9) *
    /// (sum |x||w| + |bias|), the sum being the reference convolution of |x| and |w|.
    /// The fast convolution followed by the reference epilogue sums in the kernel's own order, and the
    /// epilogue's add and leaky relu round once either way: that composition matches bit for bit.
    func testEpiloguesMatchScalarReferences() {
        for backward in [false, true] {
            for (i, s) in shapes.enumerated() {
                var pr = ConvEpilogueProblem(s, backward: backward, seed: 177 + UInt64(i))
                let what = "\(pr.what) shape \(i)"
                let fused = fastWithEpilogue(&pr, threads: 2)
                let ref = TestContext(threads: 1)
                // The scalar references, composed.
                let out = AlignedBuffer(count: pr.count, fill: .nan), act = AlignedBuffer(count: pr.count, fill: .nan)
                let st: gg_status = withBiasLeakyRelu(out: out, act: act, bias: pr.bias, shape: pr.outShape) { p in
                    backward ? gg_conv2d_bwd_data_ep_f32_ref(&ref.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
                             : gg_conv2d_ep_f32_ref(&ref.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
                }
                XCTAssertEqual(st, GG_OK, what)
                var magnitude = ConvEpilogueProblem(s, backward: backward, seed: 177 + UInt64(i))
                for buffer in [magnitude.x, magnitude.w] {
                    for k in 0..<buffer.count { buffer.pointer[k] = abs(buffer.pointer[k]) }
                }
                let sums = AlignedBuffer(count: pr.count)
                XCTAssertEqual(magnitude.convolve(&ref.ctx, sums, reference: true), GG_OK, what)
                let K = Int((backward ? s.oc : s.c) * s.kh * s.kw), plane = Int(pr.outShape[2] * pr.outShape[3])
                let channels = Int(pr.outShape[1])
                let bound = (0..<pr.count).map { k in
                    gamma(2 * K + 9) * (Double(sums.pointer[k]) + Double(abs(pr.bias.pointer[k / plane % channels])))
                }
                assertWithinBound(fused[0], out.array, bound, "pre-activation vs references " + what)
                assertWithinBound(fused[1], act.array, bound, "activation vs references " + what)
                // The fast convolution, then the reference epilogue.
                let out3 = AlignedBuffer(count: pr.count, fill: .nan), act3 = AlignedBuffer(count: pr.count, fill: .nan)
                let st3: gg_status = withBiasLeakyRelu(out: out3, act: act3, bias: pr.bias, shape: pr.outShape) { p in
                    var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
                    let tc = TestContext(threads: 2, scratchFloats: Int(gg_conv2d_f32_scratch(&probe, &pr.s)))
                    let conv = pr.convolve(&tc.ctx, out3, reference: false)
                    return conv == GG_OK ? gg_fused_f32_ref(&ref.ctx, p) : conv
                }
                XCTAssertEqual(st3, GG_OK, what)
                assertBitIdentical(fused[0], out3.array, "pre-activation vs reference epilogue " + what)
                assertBitIdentical(fused[1], act3.array, "activation vs reference epilogue " + what)
            }
        }
    }

    func testBadEpilogueAndShortScratch() {
        var s = convShape(2, 16, 8, 8, 16, 3, 1, 1)
        let x = AlignedBuffer(count: Int(s.n * s.c * s.h * s.w), fill: 1), w = AlignedBuffer(count: Int(s.oc * s.c * 9), fill: 1)
        let count = Int(s.n * s.oc * s.oh * s.ow)
        let y = AlignedBuffer(count: count), act = AlignedBuffer(count: count), bias = AlignedBuffer(count: Int(s.oc))
        // An epilogue whose space is not the output.
        let wrong: gg_status = withBiasLeakyRelu(out: y, act: act, bias: bias, shape: [s.n, s.oc, s.oh, s.ow + 1]) { p in
            let tc = TestContext(threads: 1, scratchFloats: 1 << 22)
            // the references refuse it too, before writing anything
            XCTAssertEqual(gg_conv2d_ep_f32_ref(&tc.ctx, y.pointer, x.pointer, w.pointer, &s, p), GG_ERR_ARG)
            XCTAssertEqual(gg_conv2d_bwd_data_ep_f32_ref(&tc.ctx, x.pointer, y.pointer, w.pointer, &s, p), GG_ERR_ARG)
            return gg_conv2d_ep_f32(&tc.ctx, y.pointer, x.pointer, w.pointer, &s, p)
        }
        XCTAssertEqual(wrong, GG_ERR_ARG)
        let short: gg_status = withBiasLeakyRelu(out: y, act: act, bias: bias, shape: [s.n, s.oc, s.oh, s.ow]) { p in
            var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: 2, scratchFloats: Int(gg_conv2d_ep_f32_scratch(&probe, &s, p)) - 1)
            return gg_conv2d_ep_f32(&tc.ctx, y.pointer, x.pointer, w.pointer, &s, p)
        }
        XCTAssertEqual(short, GG_ERR_SCRATCH)
    }
}

private typealias Run = (UnsafePointer<gg_ctx>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                         UnsafePointer<gg_conv2d_shape>, UnsafePointer<gg_fprogram>?) -> gg_status

private extension ConvEpilogueProblem {
    var withEpilogue: Run {
        backward ? { gg_conv2d_bwd_data_ep_f32($0, $1, $2, $3, $4, $5) } : { gg_conv2d_ep_f32($0, $1, $2, $3, $4, $5) }
    }

    /// The plain convolution into out: the fast kernel, or the reference.
    mutating func convolve(_ ctx: inout gg_ctx, _ out: AlignedBuffer, reference: Bool) -> gg_status {
        switch (backward, reference) {
        case (false, false): return gg_conv2d_f32(&ctx, out.pointer, x.pointer, w.pointer, &s)
        case (true, false): return gg_conv2d_bwd_data_f32(&ctx, out.pointer, x.pointer, w.pointer, &s)
        case (false, true): return gg_conv2d_f32_ref(&ctx, out.pointer, x.pointer, w.pointer, &s)
        case (true, true): return gg_conv2d_bwd_data_f32_ref(&ctx, out.pointer, x.pointer, w.pointer, &s)
        }
    }
}
