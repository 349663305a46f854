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

    private func shape(_ n: Int64, _ c: Int64, _ h: Int64, _ w: Int64, _ oc: Int64, _ k: Int64, _ stride: Int64, _ pad: Int64) -> gg_conv2d_shape {
        gg_conv2d_shape(n: n, c: c, h: h, w: w, oc: oc, kh: k, kw: k, stride: stride, pad: pad,
                        oh: (h + 2 * pad - k) / stride + 1, ow: (w + 2 * pad - k) / stride + 1)
    }

    /// Implicit-GEMM shapes (enough channels, stride <= 2: panels that straddle images, uneven
    /// phases) and per-image ones (thin layers, stride 3, 1x1).
    private var shapes: [gg_conv2d_shape] {
        [shape(3, 9, 11, 13, 17, 3, 1, 1), shape(5, 16, 9, 9, 24, 4, 2, 1), shape(4, 64, 7, 7, 64, 4, 2, 1),
         shape(2, 8, 13, 13, 16, 3, 2, 0), shape(20, 1, 13, 11, 6, 3, 2, 1), shape(3, 2, 10, 9, 3, 3, 3, 1),
         shape(9, 7, 7, 7, 5, 1, 1, 0)]
    }

    private typealias Run = (UnsafePointer<gg_ctx>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                             UnsafePointer<gg_conv2d_shape>, UnsafePointer<gg_fprogram>?) -> gg_status

    private func check(backward: Bool) {
        for (i, var s) in shapes.enumerated() {
            // Forward: x (n, c, h, w) -> y (n, oc, oh, ow). Data gradient: dy (n, oc, oh, ow) -> dx (n, c, h, w).
            let inShape: [Int64] = backward ? [s.n, s.oc, s.oh, s.ow] : [s.n, s.c, s.h, s.w]
            let outShape: [Int64] = backward ? [s.n, s.c, s.h, s.w] : [s.n, s.oc, s.oh, s.ow]
            var g = SeededValues(seed: 77 + UInt64(i))
            let x = AlignedBuffer(g.array(Int(inShape.reduce(1, *))))
            let w = AlignedBuffer(g.array(Int(s.oc * s.c * s.kh * s.kw)))
            let bias = AlignedBuffer(g.array(Int(outShape[1])))
            let count = Int(outShape.reduce(1, *))
            let withEpilogue: Run = backward ? { gg_conv2d_bwd_data_ep_f32($0, $1, $2, $3, $4, $5) } : { gg_conv2d_ep_f32($0, $1, $2, $3, $4, $5) }
            for threads: Int32 in [1, 2] {
                let what = (backward ? "bwd_data " : "forward ") + "shape \(i) threads \(threads)"
                let out1 = AlignedBuffer(count: count, fill: .nan), act1 = AlignedBuffer(count: count, fill: .nan)
                let st1: gg_status = withBiasLeakyRelu(out: out1, act: act1, bias: bias, shape: outShape) { p in
                    var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                    let tc = TestContext(threads: threads, scratchFloats: Int(gg_conv2d_ep_f32_scratch(&probe, &s, p)))
                    return withEpilogue(&tc.ctx, out1.pointer, x.pointer, w.pointer, &s, p)
                }
                XCTAssertEqual(st1, GG_OK, what)
                let out2 = AlignedBuffer(count: count, fill: .nan), act2 = AlignedBuffer(count: count, fill: .nan)
                let st2: gg_status = withBiasLeakyRelu(out: out2, act: act2, bias: bias, shape: outShape) { p in
                    var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                    let need = max(Int(gg_conv2d_f32_scratch(&probe, &s)), Int(gg_fused_f32_scratch(&probe, p)))
                    let tc = TestContext(threads: threads, scratchFloats: need)
                    let st = backward ? gg_conv2d_bwd_data_f32(&tc.ctx, out2.pointer, x.pointer, w.pointer, &s)
                                      : gg_conv2d_f32(&tc.ctx, out2.pointer, x.pointer, w.pointer, &s)
                    return st == GG_OK ? gg_fused_f32(&tc.ctx, p) : st
                }
                XCTAssertEqual(st2, GG_OK, what)
                assertBitIdentical(out1.array, out2.array, "pre-activation " + what)
                assertBitIdentical(act1.array, act2.array, "activation " + what)
            }
        }
    }

    func testForwardEpilogueEqualsConvThenFused() { check(backward: false) }

    func testDataGradientEpilogueEqualsConvThenFused() { check(backward: true) }

    func testBadEpilogueAndShortScratch() {
        var s = shape(2, 16, 8, 8, 16, 3, 1, 1)
        let x = AlignedBuffer(count: Int(s.n * s.c * s.h * s.w), fill: 1), w = AlignedBuffer(count: Int(s.oc * s.c * 9), fill: 1)
        let count = Int(s.n * s.oc * s.oh * s.ow)
        let y = AlignedBuffer(count: count), act = AlignedBuffer(count: count), bias = AlignedBuffer(count: Int(s.oc))
        // An epilogue whose space is not the output.
        let wrong: gg_status = withBiasLeakyRelu(out: y, act: act, bias: bias, shape: [s.n, s.oc, s.oh, s.ow + 1]) { p in
            let tc = TestContext(threads: 1, scratchFloats: 1 << 22)
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
