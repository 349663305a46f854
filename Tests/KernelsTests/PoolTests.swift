import Kernels
import XCTest

private func poolShape(n: Int, c: Int, h: Int, w: Int, k: Int, stride: Int, pad: Int) -> gg_pool2d_shape? {
    guard h + 2 * pad >= k, w + 2 * pad >= k, 2 * pad <= k else { return nil }
    return gg_pool2d_shape(n: Int64(n), c: Int64(c), h: Int64(h), w: Int64(w), k: Int64(k),
                           stride: Int64(stride), pad: Int64(pad),
                           oh: Int64((h + 2 * pad - k) / stride + 1), ow: Int64((w + 2 * pad - k) / stride + 1))
}

private func describe(_ s: gg_pool2d_shape) -> String {
    "n\(s.n) c\(s.c) \(s.h)x\(s.w) k\(s.k) s\(s.stride) p\(s.pad) -> \(s.oh)x\(s.ow)"
}

/// Forward and backward of one max pool; `reference` picks the scalar versions.
private func maxPool(_ shape: gg_pool2d_shape, x: [Float], dy: [Float], threads: Int32, reference: Bool = false,
                     file: StaticString = #filePath, line: UInt = #line) -> (y: [Float], dx: [Float]) {
    var s = shape
    let tc = TestContext(threads: threads)
    let xb = AlignedBuffer(x), dyb = AlignedBuffer(dy)
    let y = AlignedBuffer(count: dy.count, fill: .nan), dx = AlignedBuffer(count: x.count, fill: .nan)
    let f = reference ? gg_maxpool2d_f32_ref(&tc.ctx, y.pointer, xb.pointer, &s)
                      : gg_maxpool2d_f32(&tc.ctx, y.pointer, xb.pointer, &s)
    let b = reference ? gg_maxpool2d_bwd_f32_ref(&tc.ctx, dx.pointer, xb.pointer, dyb.pointer, &s)
                      : gg_maxpool2d_bwd_f32(&tc.ctx, dx.pointer, xb.pointer, dyb.pointer, &s)
    XCTAssertEqual(f, GG_OK, describe(shape), file: file, line: line)
    XCTAssertEqual(b, GG_OK, describe(shape), file: file, line: line)
    return (y.array, dx.array)
}

final class PoolTests: XCTestCase {
    func testMatchesReferenceWithManyTies() {
        var r = SeededValues(seed: 42)
        var cases = 0
        for n in [1, 3] { for c in [1, 3] { for h in [1, 5, 7, 13] { for w in [1, 6, 13] {
            for k in 1...4 { for stride in 1...3 { for pad in 0...2 {
                guard let s = poolShape(n: n, c: c, h: h, w: w, k: k, stride: stride, pad: pad) else { continue }
                // Small integers: most windows hold ties.
                let x = r.array(n * c * h * w).map { ($0 * 3).rounded() }
                let dy = r.array(Int(s.n * s.c * s.oh * s.ow))
                let ref = maxPool(s, x: x, dy: dy, threads: 1, reference: true)
                let fast = maxPool(s, x: x, dy: dy, threads: 2)
                assertBitIdentical(fast.y, ref.y, "forward " + describe(s))
                assertBitIdentical(fast.dx, ref.dx, "backward " + describe(s))
                cases += 1
            } } }
        } } } }
        XCTAssertGreaterThan(cases, 500)
    }

    func testTiesRouteToTheFirstMaximum() {
        // One 4x4 plane, k=2 s=2: windows [5 5; 5 5], [1 3; 3 2], [0 -1; 7 7], [4 1; 2 4].
        let x: [Float] = [5, 5, 1, 3,
                          5, 5, 3, 2,
                          0, -1, 4, 1,
                          7, 7, 2, 4]
        let s = poolShape(n: 1, c: 1, h: 4, w: 4, k: 2, stride: 2, pad: 0)!
        let dy: [Float] = [1, 2, 3, 4]
        for reference in [false, true] {
            let out = maxPool(s, x: x, dy: dy, threads: 1, reference: reference)
            XCTAssertEqual(out.y, [5, 3, 7, 4])
            XCTAssertEqual(out.dx, [1, 0, 0, 2,
                                    0, 0, 0, 0,
                                    0, 0, 4, 0,
                                    3, 0, 0, 0])
        }
        // Overlapping windows (k=3, s=1) sharing one maximum add their dy there.
        let s3 = poolShape(n: 1, c: 1, h: 3, w: 4, k: 3, stride: 1, pad: 0)!
        let x3: [Float] = [0, 0, 0, 0,
                           0, 9, 9, 0,
                           0, 0, 0, 0]
        for reference in [false, true] {
            let out = maxPool(s3, x: x3, dy: [1, 10], threads: 1, reference: reference)
            XCTAssertEqual(out.y, [9, 9])
            XCTAssertEqual(out.dx, [0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0])
        }
    }

    func testPaddingNeverWins() {
        // All negative, pad 1: a padded 0 must never be the max, and nothing is -inf or NaN.
        let s = poolShape(n: 1, c: 2, h: 3, w: 3, k: 2, stride: 2, pad: 1)!
        let x: [Float] = (0..<18).map { -1 - Float($0) }
        let dy: [Float] = (0..<8).map { Float($0 + 1) }
        for reference in [false, true] {
            let out = maxPool(s, x: x, dy: dy, threads: 2, reference: reference)
            // Plane 0 is -1...-9; windows cover {(0,0)}, {(0,1),(0,2)}, {(1,0),(2,0)}, {(1,1)..(2,2)}.
            XCTAssertEqual(Array(out.y[0..<4]), [-1, -2, -4, -5])
            XCTAssertEqual(Array(out.y[4..<8]), [-10, -11, -13, -14])
            XCTAssertTrue(out.y.allSatisfy { $0.isFinite })
            XCTAssertTrue(out.dx.allSatisfy { $0.isFinite })
            XCTAssertEqual(Array(out.dx[0..<9]), [1, 2, 0, 3, 4, 0, 0, 0, 0])
        }
    }

    func testNaNIsPickedAndNaNFreeInputGivesNaNFreeOutput() {
        let s = poolShape(n: 1, c: 1, h: 2, w: 4, k: 2, stride: 2, pad: 0)!
        let x: [Float] = [1, .nan, 3, 8,
                          .nan, 9, 2, 1]
        for reference in [false, true] {
            let out = maxPool(s, x: x, dy: [5, 6], threads: 1, reference: reference)
            XCTAssertTrue(out.y[0].isNaN)
            XCTAssertEqual(out.y[1], 8)
            // dy goes to the first NaN of the window.
            XCTAssertEqual(out.dx.map(\.bitPattern), ([0, 5, 0, 6, 0, 0, 0, 0] as [Float]).map(\.bitPattern))
        }
        var r = SeededValues(seed: 3)
        let big = poolShape(n: 2, c: 3, h: 13, w: 13, k: 3, stride: 2, pad: 1)!
        let out = maxPool(big, x: r.array(2 * 3 * 13 * 13, -1e30, 1e30), dy: r.array(2 * 3 * 7 * 7), threads: 2)
        XCTAssertFalse(out.y.contains { $0.isNaN })
        XCTAssertFalse(out.dx.contains { $0.isNaN })
    }

    func testThreadCountDoesNotChangeResults() {
        var r = SeededValues(seed: 5)
        for s in [poolShape(n: 8, c: 16, h: 28, w: 28, k: 2, stride: 2, pad: 0)!,
                  poolShape(n: 4, c: 16, h: 27, w: 25, k: 3, stride: 2, pad: 1)!] {
            let x = r.array(Int(s.n * s.c * s.h * s.w)).map { ($0 * 4).rounded() }
            let dy = r.array(Int(s.n * s.c * s.oh * s.ow))
            let one = assertSameOnThreadCounts(threadCounts, describe(s)) { threads in
                let out = maxPool(s, x: x, dy: dy, threads: threads)
                return [out.y, out.dx]
            }
            let ref = maxPool(s, x: x, dy: dy, threads: 1, reference: true)
            assertBitIdentical(one[0], ref.y)
            assertBitIdentical(one[1], ref.dx)
        }
    }

    func testInconsistentShapesAreRejected() {
        let good = poolShape(n: 1, c: 2, h: 6, w: 6, k: 2, stride: 2, pad: 0)!
        var bad: [gg_pool2d_shape] = []
        var s = good; s.oh += 1; bad.append(s)
        s = good; s.ow -= 1; bad.append(s)
        s = good; s.stride = 0; bad.append(s)
        s = good; s.k = 0; bad.append(s)
        s = good; s.pad = 2; s.oh = 5; s.ow = 5; bad.append(s) // pad > k/2: a window could be all padding
        s = good; s.c = 0; bad.append(s)
        let tc = TestContext(threads: 2)
        let buf = AlignedBuffer(count: 256)
        for var b in bad {
            XCTAssertEqual(gg_maxpool2d_f32(&tc.ctx, buf.pointer, buf.pointer, &b), GG_ERR_ARG, describe(b))
            XCTAssertEqual(gg_maxpool2d_bwd_f32(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_maxpool2d_f32_ref(&tc.ctx, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
            XCTAssertEqual(gg_maxpool2d_bwd_f32_ref(&tc.ctx, buf.pointer, buf.pointer, buf.pointer, &b), GG_ERR_ARG)
        }
    }
}
