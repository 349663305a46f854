import Kernels
import XCTest

/// A conv shape with oh/ow from the floor formula, or nil when the kernel does not fit.
private func convShape(n: Int, c: Int, h: Int, w: Int, oc: Int, kh: Int, kw: Int,
                       stride: Int, pad: Int) -> gg_conv2d_shape? {
    guard h + 2 * pad >= kh, w + 2 * pad >= kw else { return nil }
    let oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1
    return gg_conv2d_shape(n: Int64(n), c: Int64(c), h: Int64(h), w: Int64(w), oc: Int64(oc),
                           kh: Int64(kh), kw: Int64(kw), stride: Int64(stride), pad: Int64(pad),
                           oh: Int64(oh), ow: Int64(ow))
}

private func describe(_ s: gg_conv2d_shape) -> String {
    "n\(s.n) c\(s.c) \(s.h)x\(s.w) oc\(s.oc) k\(s.kh)x\(s.kw) s\(s.stride) p\(s.pad) -> \(s.oh)x\(s.ow)"
}

private func dot(_ a: [Float], _ b: [Float]) -> (value: Double, scale: Double) {
    var acc = 0.0, scale = 0.0
    for i in 0..<min(a.count, b.count) {
        acc += Double(a[i]) * Double(b[i])
        scale += abs(Double(a[i]) * Double(b[i]))
    }
    return (acc, scale)
}

/// Runs the three conv kernels (fast with `threads`, exactly the queried scratch) on one shape.
private struct ConvRun {
    var y: [Float], dx: [Float], dw: [Float]

    init(_ shape: gg_conv2d_shape, threads: Int32, isa: Int32 = -1, x: [Float], w: [Float], dy: [Float],
         reference: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        var s = shape
        var probe = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
        let need = reference ? 0 : Int(gg_conv2d_f32_scratch(&probe, &s))
        let tc = TestContext(threads: threads, isa: isa, scratchFloats: need)
        let xb = AlignedBuffer(x), wb = AlignedBuffer(w), dyb = AlignedBuffer(dy)
        let yb = AlignedBuffer(count: dy.count, fill: .nan)
        let dxb = AlignedBuffer(count: x.count, fill: .nan)
        let dwb = AlignedBuffer(count: w.count, fill: .nan)
        let statuses: [gg_status]
        if reference {
            statuses = [gg_conv2d_f32_ref(&tc.ctx, yb.pointer, xb.pointer, wb.pointer, &s),
                        gg_conv2d_bwd_data_f32_ref(&tc.ctx, dxb.pointer, dyb.pointer, wb.pointer, &s),
                        gg_conv2d_bwd_filter_f32_ref(&tc.ctx, dwb.pointer, xb.pointer, dyb.pointer, &s)]
        } else {
            statuses = [gg_conv2d_f32(&tc.ctx, yb.pointer, xb.pointer, wb.pointer, &s),
                        gg_conv2d_bwd_data_f32(&tc.ctx, dxb.pointer, dyb.pointer, wb.pointer, &s),
                        gg_conv2d_bwd_filter_f32(&tc.ctx, dwb.pointer, xb.pointer, dyb.pointer, &s)]
        }
        XCTAssertEqual(statuses, [GG_OK, GG_OK, GG_OK], describe(shape), file: file, line: line)
        y = yb.array
        dx = dxb.array
        dw = dwb.array
    }
}

/// The first index where a and b differ in bits, or nil.
private func firstBitDifference(_ a: [Float], _ b: ArraySlice<Float>) -> Int? {
    guard a.count == b.count else { return min(a.count, b.count) }
    return a.indices.first { a[$0].bitPattern != b[b.startIndex + $0].bitPattern }
}

final class ConvTests: XCTestCase {
    private func data(_ s: gg_conv2d_shape, seed: UInt64) -> (x: [Float], w: [Float], dy: [Float]) {
        var r = SeededValues(seed: seed)
        return (r.array(Int(s.n * s.c * s.h * s.w)), r.array(Int(s.oc * s.c * s.kh * s.kw)),
                r.array(Int(s.n * s.oc * s.oh * s.ow)))
    }

    /// Fast vs reference, every thread count vs one, and the adjoint identity on one shape.
    private func checkShape(_ s: gg_conv2d_shape, seed: UInt64, isa: Int32 = -1,
                            file: StaticString = #filePath, line: UInt = #line) {
        let (x, w, dy) = data(s, seed: seed)
        let ref = ConvRun(s, threads: 1, x: x, w: w, dy: dy, reference: true, file: file, line: line)
        var probe = gg_ctx(nthreads: 1, isa: isa, scratch: nil, scratch_len: 0)
        let name = describe(s) + " " + String(cString: gg_isa_name(gg_ctx_isa(&probe)))
        let fast = assertSameOnThreadCounts(threadCounts, name, file: file, line: line) { threads in
            let run = ConvRun(s, threads: threads, isa: isa, x: x, w: w, dy: dy, file: file, line: line)
            return [run.y, run.dx, run.dw]
        }
        let one = (y: fast[0], dx: fast[1], dw: fast[2])
        // The fast kernels sum in f32 (up to a few hundred terms of size <= 1 here).
        assertClose(one.y, ref.y, rtol: 1e-4, atol: 1e-4, "forward " + name, file: file, line: line)
        assertClose(one.dx, ref.dx, rtol: 1e-4, atol: 1e-4, "bwd_data " + name, file: file, line: line)
        assertClose(one.dw, ref.dw, rtol: 1e-4, atol: 1e-4, "bwd_filter " + name, file: file, line: line)
        // <conv(x, w), dy> == <x, bwd_data(dy, w)> == <w, bwd_filter(x, dy)>
        let a = dot(one.y, dy), b = dot(x, one.dx), c = dot(w, one.dw)
        let tol = 1e-4 * max(a.scale, 1)
        XCTAssertEqual(a.value, b.value, accuracy: tol, "adjoint x " + name, file: file, line: line)
        XCTAssertEqual(a.value, c.value, accuracy: tol, "adjoint w " + name, file: file, line: line)
    }

    func testAllKernelsMatchReferenceOverOddShapes() {
        let sizes = [1, 5, 7, 13], kernels = [1, 3, 4, 7], channels = [1, 3, 7]
        var seed: UInt64 = 1, cases = 0
        for n in [1, 3] {
            for (ci, c) in channels.enumerated() {
                for (oi, oc) in channels.enumerated() where (ci + oi + n) % 2 == 0 || c == oc {
                    for (hi, h) in sizes.enumerated() {
                        for (ki, k) in kernels.enumerated() {
                            for stride in [1, 2] {
                                for pad in 0...3 {
                                    // Vary w and kw against h and kh so that non-square shapes appear.
                                    let w = sizes[(hi + ci + pad) % sizes.count]
                                    let kw = kernels[(ki + oi + stride) % kernels.count]
                                    guard let s = convShape(n: n, c: c, h: h, w: w, oc: oc, kh: k, kw: kw,
                                                            stride: stride, pad: pad) else { continue }
                                    seed += 1
                                    checkShape(s, seed: seed)
                                    cases += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(cases, 300)
    }

    /// Shapes large enough for the threaded and batched-GEMM paths (several images per thread,
    /// bwd_filter chunks holding several images, 1x1 convs that skip im2col).
    func testLargerBatchesAndPointwise() {
        let shapes: [gg_conv2d_shape?] = [
            convShape(n: 20, c: 3, h: 13, w: 13, oc: 7, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 17, c: 5, h: 9, w: 11, oc: 4, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 9, c: 7, h: 7, w: 7, oc: 5, kh: 1, kw: 1, stride: 1, pad: 0),
            convShape(n: 1, c: 7, h: 13, w: 13, oc: 5, kh: 1, kw: 1, stride: 1, pad: 0),
            convShape(n: 1, c: 3, h: 13, w: 13, oc: 5, kh: 1, kw: 1, stride: 2, pad: 1),
            convShape(n: 2, c: 1, h: 28, w: 28, oc: 8, kh: 7, kw: 7, stride: 1, pad: 3),
            // c*kh*kw <= 16 with several images per bwd_filter GEMM: the small-K and dot-product paths.
            convShape(n: 20, c: 1, h: 13, w: 11, oc: 6, kh: 3, kw: 3, stride: 2, pad: 1),
            convShape(n: 19, c: 1, h: 14, w: 14, oc: 5, kh: 4, kw: 4, stride: 2, pad: 1),
        ]
        for (i, s) in shapes.enumerated() { checkShape(s!, seed: 1000 + UInt64(i)) }
    }

    /// Shapes with enough channels for the implicit-GEMM paths (AVX-512 and AVX2, each where the
    /// CPU has it): panels that straddle two or more images, stride-2 phases of unequal sizes
    /// (odd h/w), phases no tap reaches (1x1 stride 2), non-square kernels and images, partial
    /// row tiles (8 rows on AVX-512, 6 on AVX2) and partial 32-lane panels; stride-2 data gradients
    /// whose paired phases pack their union as units (7x7 dy, panels inside one image, across two,
    /// and at the batch's ends, where load plans take over); stride-2 forwards read through x's phase
    /// planes (4x4 taps, 2 per phase row and column; 3x3, phases of 4, 2, 2 and 1 taps; non-square
    /// images); stride-1 weight gradients read through
    /// padded planes (pads 0-3, odd widths, non-square kernels, 1x1).
    func testImplicitGemmPaths() {
        let shapes: [gg_conv2d_shape?] = [
            convShape(n: 3, c: 9, h: 11, w: 13, oc: 17, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 5, c: 16, h: 9, w: 9, oc: 24, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 2, c: 8, h: 14, w: 14, oc: 16, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 3, c: 10, h: 7, w: 12, oc: 19, kh: 5, kw: 3, stride: 2, pad: 2),
            convShape(n: 2, c: 8, h: 13, w: 13, oc: 16, kh: 3, kw: 3, stride: 2, pad: 0),
            convShape(n: 3, c: 64, h: 5, w: 7, oc: 16, kh: 1, kw: 1, stride: 1, pad: 0),
            convShape(n: 2, c: 8, h: 9, w: 9, oc: 64, kh: 1, kw: 1, stride: 2, pad: 0),
            convShape(n: 2, c: 8, h: 12, w: 10, oc: 16, kh: 7, kw: 7, stride: 1, pad: 3),
            convShape(n: 1, c: 12, h: 6, w: 5, oc: 33, kh: 2, kw: 4, stride: 1, pad: 1),
            convShape(n: 7, c: 16, h: 3, w: 3, oc: 16, kh: 3, kw: 3, stride: 1, pad: 0),
            convShape(n: 3, c: 20, h: 14, w: 14, oc: 40, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 4, c: 24, h: 14, w: 14, oc: 13, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 6, c: 12, h: 14, w: 14, oc: 20, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 3, c: 8, h: 12, w: 16, oc: 12, kh: 3, kw: 3, stride: 2, pad: 1),
            // bwd_filter's padded path wants an image's planes and dy^T in L2: this one packs col instead.
            convShape(n: 2, c: 64, h: 40, w: 40, oc: 16, kh: 3, kw: 3, stride: 1, pad: 1),
        ]
        for isa in implicitGemmISAs {
            for (i, s) in shapes.enumerated() { checkShape(s!, seed: 2000 + UInt64(i), isa: isa) }
        }
    }

    /// Stride-1 "same" convolutions take B in units (16 lanes read in place on AVX2; 32 on AVX-512,
    /// read in place up to 8 output rows or with a short K, else packed per unit, a packed unit running
    /// on from one image into the next), except where a unit's masked lanes would leave the tensor: the
    /// first and last units of the batch are packed from load plans. Run on one image alone, an image's
    /// edge units are packed so and no unit meets two images; in a batch, only the batch's ends are.
    /// Both must give the same bits, and match the reference (odd widths, units that cross rows and
    /// images at every offset, partial last units, 1x1 and 7x7 taps, row counts that leave 1-5 row
    /// tails, channels summed in blocks: 12 channels of 7x7 as 5 + 5 + 2, 40 of 3x3 as 32 + 8; thin
    /// layers; 7x7 images of 49 pixels and 37 or 16 rows, whose units all fill only by running on).
    func testInPlaceUnitsMatchPackedPanelsBitwise() {
        let shapes: [gg_conv2d_shape?] = [
            convShape(n: 4, c: 9, h: 12, w: 12, oc: 13, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 3, c: 7, h: 16, w: 16, oc: 32, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 3, c: 4, h: 11, w: 13, oc: 20, kh: 5, kw: 5, stride: 1, pad: 2),
            convShape(n: 2, c: 12, h: 16, w: 16, oc: 9, kh: 7, kw: 7, stride: 1, pad: 3),
            convShape(n: 2, c: 40, h: 12, w: 12, oc: 14, kh: 3, kw: 3, stride: 1, pad: 1),
            // Thin layers with few output channels take the in-place path whatever K is.
            convShape(n: 3, c: 32, h: 14, w: 14, oc: 2, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 2, c: 2, h: 16, w: 16, oc: 5, kh: 5, kw: 5, stride: 1, pad: 2),
            convShape(n: 3, c: 64, h: 8, w: 6, oc: 31, kh: 1, kw: 1, stride: 1, pad: 0),
            convShape(n: 3, c: 8, h: 28, w: 28, oc: 8, kh: 3, kw: 3, stride: 1, pad: 1),
            convShape(n: 7, c: 16, h: 7, w: 7, oc: 37, kh: 3, kw: 3, stride: 1, pad: 1),
        ]
        for isa in implicitGemmISAs {
            for (i, shape) in shapes.enumerated() {
                let s = shape!
                checkShape(s, seed: 4000 + UInt64(i), isa: isa)
                let (x, w, dy) = data(s, seed: 4100 + UInt64(i))
                let batch = ConvRun(s, threads: 2, isa: isa, x: x, w: w, dy: dy)
                var one = s
                one.n = 1
                let xs = Int(s.c * s.h * s.w), ys = Int(s.oc * s.oh * s.ow)
                for b in 0..<Int(s.n) {
                    let alone = ConvRun(one, threads: 2, isa: isa, x: Array(x[b * xs..<(b + 1) * xs]), w: w,
                                        dy: Array(dy[b * ys..<(b + 1) * ys]))
                    let what = describe(s) + " image \(b)"
                    XCTAssertNil(firstBitDifference(alone.y, batch.y[b * ys..<(b + 1) * ys]), "forward " + what)
                    XCTAssertNil(firstBitDifference(alone.dx, batch.dx[b * xs..<(b + 1) * xs]), "bwd_data " + what)
                }
            }
        }
    }

    /// One output channel takes the direct loops: stride 1 with pad below the kernel runs on
    /// zero-padded planes (kernel rows 4 taps at a time, widths 1..7 and 9 for the remainders),
    /// the other cases run row by row; batches above 8 split bwd_filter into chunks.
    func testSingleOutputChannelDirectLoops() {
        let shapes: [gg_conv2d_shape?] = [
            convShape(n: 3, c: 5, h: 11, w: 9, oc: 1, kh: 7, kw: 7, stride: 1, pad: 3),
            convShape(n: 11, c: 2, h: 8, w: 13, oc: 1, kh: 3, kw: 5, stride: 1, pad: 1),
            convShape(n: 2, c: 3, h: 6, w: 12, oc: 1, kh: 2, kw: 9, stride: 1, pad: 0),
            convShape(n: 2, c: 4, h: 7, w: 7, oc: 1, kh: 1, kw: 1, stride: 1, pad: 1),
            convShape(n: 3, c: 3, h: 9, w: 10, oc: 1, kh: 4, kw: 4, stride: 2, pad: 1),
            convShape(n: 1, c: 1, h: 5, w: 5, oc: 1, kh: 5, kw: 6, stride: 1, pad: 2),
            convShape(n: 9, c: 6, h: 5, w: 4, oc: 1, kh: 3, kw: 2, stride: 3, pad: 2),
        ]
        for isa in [Int32(-1)] + implicitGemmISAs + [Int32(GG_ISA_PORTABLE.rawValue)] {
            for (i, s) in shapes.enumerated() { checkShape(s!, seed: 3000 + UInt64(i), isa: isa) }
        }
    }

    /// The implicit GEMM's ISAs this CPU runs (AVX-512 then AVX2), as ctx isa values.
    private var implicitGemmISAs: [Int32] {
        let best = gg_cpu_isa().rawValue
        return [GG_ISA_AVX512, GG_ISA_AVX2].filter { $0.rawValue <= best }.map { Int32($0.rawValue) }
    }

    /// conv_transpose2d(x', w') with x' (n, ic, h', w'), w' (ic, oc, k, k), checked against the
    /// scatter definition: out[b, o, iy*s - p + ki, ix*s - p + kj] += x'[b, i, iy, ix] * w'[i, o, ki, kj],
    /// where the output may be larger than (h'-1)*s - 2p + k (output padding).
    private func checkTransposed(n: Int, ic: Int, oc: Int, hIn: Int, wIn: Int, k: Int, stride: Int, pad: Int,
                                 hOut: Int, wOut: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var r = SeededValues(seed: seed)
        let xT = r.array(n * ic * hIn * wIn), wT = r.array(ic * oc * k * k)
        var expect = [Double](repeating: 0, count: n * oc * hOut * wOut)
        for b in 0..<n { for i in 0..<ic { for iy in 0..<hIn { for ix in 0..<wIn {
            let v = Double(xT[((b * ic + i) * hIn + iy) * wIn + ix])
            for o in 0..<oc { for ki in 0..<k { for kj in 0..<k {
                let y = iy * stride - pad + ki, x = ix * stride - pad + kj
                guard y >= 0, y < hOut, x >= 0, x < wOut else { continue }
                expect[((b * oc + o) * hOut + y) * wOut + x] += v * Double(wT[((i * oc + o) * k + ki) * k + kj])
            } } }
        } } } }
        // The conv whose input is the transposed conv's output.
        var s = gg_conv2d_shape(n: Int64(n), c: Int64(oc), h: Int64(hOut), w: Int64(wOut), oc: Int64(ic),
                                kh: Int64(k), kw: Int64(k), stride: Int64(stride), pad: Int64(pad),
                                oh: Int64(hIn), ow: Int64(wIn))
        for threads in threadCounts {
            var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
            let tc = TestContext(threads: threads, scratchFloats: Int(gg_conv2d_f32_scratch(&probe, &s)))
            let dy = AlignedBuffer(xT), w = AlignedBuffer(wT), out = AlignedBuffer(count: expect.count, fill: .nan)
            XCTAssertEqual(gg_conv2d_bwd_data_f32(&tc.ctx, out.pointer, dy.pointer, w.pointer, &s), GG_OK,
                           file: file, line: line)
            assertClose(out.array, expect.map { Float($0) }, rtol: 1e-4, atol: 1e-4,
                        "convT \(hIn)->\(hOut) k\(k) s\(stride) p\(pad) threads \(threads)", file: file, line: line)
        }
    }

    func testTransposedConvWithOutputPadding() {
        // DCGAN-style 7 -> 14 with k=4, s=2, p=1 (no output padding needed).
        checkTransposed(n: 2, ic: 5, oc: 3, hIn: 7, wIn: 7, k: 4, stride: 2, pad: 1, hOut: 14, wOut: 14, seed: 7)
        // k=3, s=2, p=1 from 7: both 13 and 14 (output padding 1) map back to 7; the
        // kernel must accept both and fill the extra row/column correctly.
        checkTransposed(n: 2, ic: 3, oc: 4, hIn: 7, wIn: 7, k: 3, stride: 2, pad: 1, hOut: 13, wOut: 13, seed: 8)
        checkTransposed(n: 2, ic: 3, oc: 4, hIn: 7, wIn: 7, k: 3, stride: 2, pad: 1, hOut: 14, wOut: 13, seed: 9)
        checkTransposed(n: 3, ic: 3, oc: 2, hIn: 5, wIn: 4, k: 3, stride: 2, pad: 1, hOut: 10, wOut: 8, seed: 10)
        // The reference kernels accept the padded shape too.
        checkShape(convShape(n: 2, c: 3, h: 14, w: 14, oc: 4, kh: 3, kw: 3, stride: 2, pad: 1)!, seed: 11)
    }

    func testInconsistentShapesAreRejected() {
        let good = convShape(n: 2, c: 3, h: 9, w: 9, oc: 4, kh: 3, kw: 3, stride: 2, pad: 1)!
        var bad: [gg_conv2d_shape] = []
        var s = good; s.oh += 1; bad.append(s)
        s = good; s.ow -= 1; bad.append(s)
        s = good; s.oh = 0; bad.append(s)
        s = good; s.stride = 0; bad.append(s)
        s = good; s.pad = -1; bad.append(s)
        s = good; s.kh = 12; bad.append(s)       // larger than the padded input
        s = good; s.c = 0; bad.append(s)
        s = good; s.n = -1; bad.append(s)
        let tc = TestContext(threads: 2, scratchFloats: 1 << 16)
        let buf = AlignedBuffer(count: 1 << 12)
        for var b in bad {
            XCTAssertEqual(gg_conv2d_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG, describe(b))
            XCTAssertEqual(gg_conv2d_bwd_data_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_conv2d_bwd_filter_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_conv2d_f32_ref(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_conv2d_bwd_data_f32_ref(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_conv2d_bwd_filter_f32_ref(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
        }
    }

    func testShortScratchIsRejected() {
        for threads in threadCounts {
            for shape in [convShape(n: 4, c: 3, h: 9, w: 9, oc: 4, kh: 3, kw: 3, stride: 2, pad: 1)!,
                          convShape(n: 1, c: 3, h: 5, w: 5, oc: 2, kh: 3, kw: 3, stride: 1, pad: 0)!] {
                var s = shape
                var probe = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
                let need = Int(gg_conv2d_f32_scratch(&probe, &s))
                XCTAssertGreaterThan(need, 0)
                let tc = TestContext(threads: threads, scratchFloats: need - 1)
                let buf = AlignedBuffer(count: 1 << 12)
                XCTAssertEqual(gg_conv2d_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &s), GG_ERR_SCRATCH)
                XCTAssertEqual(gg_conv2d_bwd_data_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &s), GG_ERR_SCRATCH)
                XCTAssertEqual(gg_conv2d_bwd_filter_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &s),
                               GG_ERR_SCRATCH)
            }
        }
    }

    func testEmptyBatch() {
        var s = convShape(n: 0, c: 3, h: 5, w: 5, oc: 2, kh: 3, kw: 3, stride: 1, pad: 1)!
        var probe = gg_ctx(nthreads: 2, isa: -1, scratch: nil, scratch_len: 0)
        let tc = TestContext(threads: 2, scratchFloats: Int(gg_conv2d_f32_scratch(&probe, &s)))
        let x = AlignedBuffer(count: 1), w = AlignedBuffer(count: 54, fill: 1), dw = AlignedBuffer(count: 54, fill: .nan)
        XCTAssertEqual(gg_conv2d_f32(&tc.ctx, x.pointer, x.pointer, w.pointer, &s), GG_OK)
        XCTAssertEqual(gg_conv2d_bwd_filter_f32(&tc.ctx, dw.pointer, x.pointer, x.pointer, &s), GG_OK)
        XCTAssertEqual(dw.array, [Float](repeating: 0, count: 54))
    }
}
