import Kernels
import XCTest

/// pre = out + bias[channel] stored back into out; act = leaky_relu(pre) into a second output;
/// sums[0][c] = sum of act over (n, h, w), sums[1][c] = sum of act * out (the conv's raw output),
/// as batch norm's backward sums its incoming gradient and that gradient times x-hat.
private func withProgram<R>(out: AlignedBuffer, act: AlignedBuffer, bias: AlignedBuffer, sums: AlignedBuffer,
                            shape: [Int64], reduceChannels: Bool = false,
                            _ body: (UnsafePointer<gg_fprogram>) -> R) -> R {
    let sum = Int32(GG_REDUCE_SUM.rawValue)
    let instr = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_LOAD, dst: 1, a: 1),
                 finstr(GG_FOP_BINARY, Int32(GG_BINARY_ADD.rawValue), dst: 2, a: 0, b: 1),
                 finstr(GG_FOP_STORE, dst: 0, a: 2),
                 finstr(GG_FOP_UNARY, Int32(GG_UNARY_LEAKY_RELU.rawValue), dst: 1, a: 2, p0: 0.2),
                 finstr(GG_FOP_STORE, dst: 1, a: 1),
                 finstr(GG_FOP_REDUCE, sum, dst: 2, a: 1),
                 finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 2, a: 1, b: 0),
                 finstr(GG_FOP_REDUCE, sum, dst: 3, a: 2)]
    let (c, h, w) = (shape[1], shape[2], shape[3])
    let dense: [Int64] = [c * h * w, h * w, w, 1]
    let perChannel: [Int64] = [0, reduceChannels ? 0 : 1, 0, 0]
    let inputs: [UnsafePointer<Float>?] = [UnsafePointer(out.pointer), UnsafePointer(bias.pointer)]
    let outputs: [UnsafeMutablePointer<Float>?] = [out.pointer, act.pointer, sums.pointer, sums.pointer + Int(c)]
    return withFusedProgram(instr, nregs: 3, shape: shape, inputs: inputs, inStrides: dense + [0, 1, 0, 0],
                            outputs: outputs, outStrides: dense + dense + perChannel + perChannel, body)
}

/// Per-channel reductions in a convolution's epilogue (gg_conv_epilogue.c): each image folds into
/// its own partial and the partials are added in image order, so the sums are bit-identical on
/// every thread count, on every method (implicit GEMM on each ISA the CPU has, per image, direct
/// loops) and ISA, and equal to gg_fused_f32's over the stored output; the elementwise outputs stay
/// those of the convolution followed by the program; the sums agree with the reference
/// interpreter's within the rounding of a sum.
final class ConvEpilogueReductionTests: XCTestCase {
    /// Implicit GEMM (panels that straddle images, images split between groups of panels, uneven
    /// phases), per image (thin layers, stride 3, 1x1) and direct loops (one output channel).
    private var shapes: [gg_conv2d_shape] {
        [convShape(3, 9, 11, 13, 17, 3, 1, 1), convShape(5, 16, 9, 9, 24, 4, 2, 1), convShape(6, 16, 20, 20, 16, 3, 1, 1),
         convShape(4, 64, 7, 7, 64, 4, 2, 1), convShape(20, 1, 13, 11, 6, 3, 2, 1), convShape(3, 2, 10, 9, 3, 3, 3, 1),
         convShape(9, 7, 7, 7, 5, 1, 1, 0), convShape(3, 5, 9, 9, 1, 3, 1, 1)]
    }

    /// ISAs to run: the CPU's implicit-GEMM ones, then the portable path (per image only).
    private var isas: [Int32] {
        let best = gg_cpu_isa().rawValue
        return ([GG_ISA_AVX512, GG_ISA_AVX2].filter { $0.rawValue <= best } + [GG_ISA_PORTABLE]).map { Int32($0.rawValue) }
    }

    func testSumsAreBitIdenticalOnEveryThreadCount() {
        for isa in isas {
            for backward in [false, true] {
                for (i, s) in shapes.enumerated() {
                    var pr = ConvEpilogueProblem(s, backward: backward, seed: 300 + UInt64(i))
                    let what = "\(pr.what) shape \(i) isa \(isa)"
                    assertSameOnThreadCounts(threadCounts, what) { threads in
                        let (st, result) = pr.fused(threads: threads, isa: isa)
                        XCTAssertEqual(st, GG_OK, what)
                        return result
                    }
                }
            }
        }
    }

    /// Against the fast convolution followed by the same program: run by gg_fused_f32_ref, the stored
    /// values match bit for bit and each sum of M = n*h*w terms, added in another order, is within
    /// 2 gamma(M) times the sum of the terms' magnitudes; run by gg_fused_f32 (a separate reduction
    /// kernel, which sums in the same order), everything matches bit for bit.
    func testSumsMatchTheInterpreters() {
        for isa in isas {
            for backward in [false, true] {
                for (i, s) in shapes.enumerated() {
                    var pr = ConvEpilogueProblem(s, backward: backward, seed: 500 + UInt64(i))
                    let what = "\(pr.what) shape \(i) isa \(isa)"
                    let (st, fused) = pr.fused(threads: 2, isa: isa)
                    XCTAssertEqual(st, GG_OK, what)
                    let out = AlignedBuffer(count: pr.count, fill: .nan), act = AlignedBuffer(count: pr.count, fill: .nan)
                    let sums = AlignedBuffer(count: 2 * pr.channels, fill: .nan)
                    let raw = AlignedBuffer(count: pr.count)
                    let ref = TestContext(threads: 1)
                    let st2: gg_status = withProgram(out: out, act: act, bias: pr.bias, sums: sums, shape: pr.outShape) { p in
                        var probe = gg_ctx(nthreads: 2, isa: isa, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: 2, isa: isa, scratchFloats: Int(gg_conv2d_f32_scratch(&probe, &pr.s)))
                        let conv = pr.backward
                            ? gg_conv2d_bwd_data_f32(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s)
                            : gg_conv2d_f32(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s)
                        raw.pointer.update(from: out.pointer, count: pr.count)
                        return conv == GG_OK ? gg_fused_f32_ref(&ref.ctx, p) : conv
                    }
                    XCTAssertEqual(st2, GG_OK, what)
                    assertBitIdentical(fused[0], out.array, "pre-activation " + what)
                    assertBitIdentical(fused[1], act.array, "activation " + what)
                    let plane = Int(pr.outShape[2] * pr.outShape[3]), m = pr.count / pr.channels
                    var magnitude = [Double](repeating: 0, count: 2 * pr.channels)
                    for k in 0..<pr.count {
                        let c = k / plane % pr.channels, a = act.pointer[k]
                        magnitude[c] += Double(abs(a))
                        magnitude[pr.channels + c] += Double(abs(a * raw.pointer[k]))
                    }
                    assertWithinBound(fused[2], sums.array, magnitude.map { 2 * gamma(m) * $0 }, "sums " + what)
                    let sums2 = AlignedBuffer(count: 2 * pr.channels, fill: .nan)
                    let st3: gg_status = withProgram(out: out, act: act, bias: pr.bias, sums: sums2, shape: pr.outShape) { p in
                        var probe = gg_ctx(nthreads: 2, isa: isa, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: 2, isa: isa, scratchFloats: Int(gg_fused_f32_scratch(&probe, p)))
                        out.pointer.update(from: raw.pointer, count: pr.count)
                        return gg_fused_f32(&tc.ctx, p)
                    }
                    XCTAssertEqual(st3, GG_OK, what)
                    assertBitIdentical(fused[2], sums2.array, "sums vs gg_fused_f32 " + what)
                }
            }
        }
    }

    /// A post program over the finished sums (a mean: sum / M into a third buffer) runs inside the
    /// kernel's call, after the sums: the same bits as scaling the kernel's own sums afterwards, on
    /// every thread count; the scalar reference runs it after its sums too (which the test above
    /// compares with the kernel's).
    func testPostProgramScalesTheFinishedSums() {
        for (i, s) in shapes.enumerated() {
            var pr = ConvEpilogueProblem(s, backward: false, seed: 700 + UInt64(i))
            let channels = Int64(pr.channels), m = Float(pr.count / pr.channels)
            let postInstr = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_CONST, dst: 1, p0: 1 / m),
                             finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 1),
                             finstr(GG_FOP_STORE, dst: 0, a: 0)]
            func run(threads: Int32, reference: Bool) -> ([Float], [Float]) {
                let out = AlignedBuffer(count: pr.count), act = AlignedBuffer(count: pr.count)
                let sums = AlignedBuffer(count: 2 * pr.channels, fill: .nan), mean = AlignedBuffer(count: pr.channels, fill: .nan)
                let st: gg_status = withProgram(out: out, act: act, bias: pr.bias, sums: sums, shape: pr.outShape) { p in
                    withFusedProgram(postInstr, nregs: 2, shape: [channels], inputs: [UnsafePointer(sums.pointer)], inStrides: [1],
                                     outputs: [mean.pointer], outStrides: [1]) { post in
                        var program = p.pointee
                        program.post = post
                        var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                        let tc = TestContext(threads: threads, scratchFloats: Int(gg_conv2d_ep_f32_scratch(&probe, &pr.s, &program)))
                        return reference ? gg_conv2d_ep_f32_ref(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, &program)
                                         : gg_conv2d_ep_f32(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, &program)
                    }
                }
                XCTAssertEqual(st, GG_OK, "shape \(i)")
                return (Array(sums.array[..<pr.channels]), mean.array)
            }
            let (sums, mean) = run(threads: 1, reference: false)
            assertBitIdentical(mean, sums.map { $0 * (1 / m) }, "post after the sums, shape \(i)")
            for threads: Int32 in [2, 3] { assertBitIdentical(run(threads: threads, reference: false).1, mean, "shape \(i) threads \(threads)") }
            let (refSums, refMean) = run(threads: 1, reference: true)
            assertBitIdentical(refMean, refSums.map { $0 * (1 / m) }, "reference's post after its sums, shape \(i)")
        }
    }

    /// The scalar references take the same programs (the convolution, then the reference interpreter)
    /// and, like the kernels, refuse a reduction over the channel axis before writing anything.
    func testReferencesTakeChannelSumsAndRefuseOthers() {
        var pr = ConvEpilogueProblem(convShape(2, 16, 8, 8, 16, 3, 1, 1), backward: false, seed: 9)
        let out = AlignedBuffer(count: pr.count), act = AlignedBuffer(count: pr.count)
        let sums = AlignedBuffer(count: 2 * pr.channels, fill: .nan)
        let tc = TestContext(threads: 2, scratchFloats: 1 << 22)
        let ok: gg_status = withProgram(out: out, act: act, bias: pr.bias, sums: sums, shape: pr.outShape) { p in
            gg_conv2d_ep_f32_ref(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
        }
        XCTAssertEqual(ok, GG_OK)
        XCTAssertFalse(sums.array.contains { $0.isNaN })
        for reference in [true, false] {
            let refused: gg_status = withProgram(out: out, act: act, bias: pr.bias, sums: sums, shape: pr.outShape,
                                                 reduceChannels: true) { p in
                reference ? gg_conv2d_ep_f32_ref(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
                          : gg_conv2d_ep_f32(&tc.ctx, out.pointer, pr.x.pointer, pr.w.pointer, &pr.s, p)
            }
            XCTAssertEqual(refused, GG_ERR_ARG, reference ? "reference" : "kernel")
        }
    }
}

private extension ConvEpilogueProblem {
    /// The kernel with the epilogue: (pre-activation, activation, both sums).
    mutating func fused(threads: Int32, isa: Int32) -> (gg_status, [[Float]]) {
        let out = AlignedBuffer(count: count, fill: .nan), act = AlignedBuffer(count: count, fill: .nan)
        let sums = AlignedBuffer(count: 2 * channels, fill: .nan)
        var s = self.s
        let (x, w, backward) = (self.x, self.w, self.backward)
        let st: gg_status = withProgram(out: out, act: act, bias: bias, sums: sums,
                                                                      shape: outShape) { p in
            var probe = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: threads, isa: isa, scratchFloats: Int(gg_conv2d_ep_f32_scratch(&probe, &s, p)))
            return backward ? gg_conv2d_bwd_data_ep_f32(&tc.ctx, out.pointer, x.pointer, w.pointer, &s, p)
                            : gg_conv2d_ep_f32(&tc.ctx, out.pointer, x.pointer, w.pointer, &s, p)
        }
        return (st, [out.array, act.array, sums.array])
    }
}
