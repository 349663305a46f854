import Kernels
import XCTest

/// gg_reduce_f32 (sum, max over the middle of (outer, n, inner)) against its reference.
final class ReduceTests: XCTestCase {
    func reduce(_ x: AlignedBuffer, _ outer: Int, _ n: Int, _ inner: Int, _ op: gg_reduce_op,
                threads: Int32, isa: Int32, reference: Bool = false) -> [Float] {
        let y = AlignedBuffer(count: outer * inner, fill: 12345)
        let tc = TestContext(threads: threads, isa: isa)
        let st = reference
            ? gg_reduce_f32_ref(&tc.ctx, y.pointer, x.pointer, Int64(outer), Int64(n), Int64(inner), op)
            : gg_reduce_f32(&tc.ctx, y.pointer, x.pointer, Int64(outer), Int64(n), Int64(inner), op)
        XCTAssertEqual(st, GG_OK)
        return y.array
    }

    /// Sum tolerance: the reference accumulates in double; the kernel's chunked
    /// float sum is within a few eps of sum |x|.
    func assertSumClose(_ y: [Float], _ ref: [Float], _ x: [Float], _ outer: Int, _ n: Int, _ inner: Int,
                        _ message: String) {
        for o in 0..<outer {
            for j in 0..<inner {
                var absSum: Float = 0
                for i in 0..<n { absSum += abs(x[(o * n + i) * inner + j]) }
                let k = o * inner + j
                if abs(y[k] - ref[k]) > 1e-6 * absSum + 1e-6 {
                    XCTFail("\(message): (\(o), \(j)) \(y[k]) vs \(ref[k])")
                    return
                }
            }
        }
    }

    func testSumAndMaxAllShapesAllISAs() {
        let dims = [1, 3, 129]
        var shapes: [(Int, Int, Int)] = []
        for o in dims { for n in dims + [0] { for i in dims { shapes.append((o, n, i)) } } }
        shapes += [(1, 1_000_003, 1), (2, 300_007, 1), (1, 20_011, 129), (3, 4099, 3), (1, 70_001, 3), (129, 1000, 1)]
        var rng = SeededValues(seed: 3)
        let pool = rng.array(shapes.map { $0.0 * $0.1 * $0.2 }.max()!)
        for (outer, n, inner) in shapes {
            let count = outer * n * inner
            let xv = Array(pool[0..<count])
            let x = AlignedBuffer(xv)
            for op in [GG_REDUCE_SUM, GG_REDUCE_MAX] {
                let ref = reduce(x, outer, n, inner, op, threads: 1, isa: 0, reference: true)
                let one = assertSameOnThreadCounts(threadCounts, "(\(outer), \(n), \(inner)) op \(op.rawValue)") { threads in
                    [reduce(x, outer, n, inner, op, threads: threads, isa: -1)]
                }[0]
                for isa: Int32 in [0, 1, 2] {
                    let y = reduce(x, outer, n, inner, op, threads: 2, isa: isa)
                    let what = "(\(outer), \(n), \(inner)) op \(op.rawValue) isa \(isa)"
                    if op == GG_REDUCE_MAX {
                        assertBitIdentical(y, ref, what)
                    } else {
                        assertSumClose(y, ref, xv, outer, n, inner, what)
                    }
                }
                if n == 0 {
                    XCTAssertTrue(one.allSatisfy { $0 == (op == GG_REDUCE_SUM ? 0 : -.infinity) }, "n == 0")
                }
            }
        }
    }

    func testMaxPropagatesNaN() {
        for (outer, n, inner) in [(1, 1000, 1), (3, 129, 3), (1, 200_000, 1), (2, 50_000, 5)] {
            var rng = SeededValues(seed: 9)
            var xv = rng.array(outer * n * inner)
            xv[(n / 2) * inner] = .nan            // column 0 of outer 0
            xv[xv.count - 1] = .nan               // last column of the last outer
            let x = AlignedBuffer(xv)
            for threads in threadCounts {
                for isa: Int32 in [0, 1, 2] {
                    let y = reduce(x, outer, n, inner, GG_REDUCE_MAX, threads: threads, isa: isa)
                    XCTAssertTrue(y[0].isNaN, "first")
                    XCTAssertTrue(y[y.count - 1].isNaN, "last")
                    if y.count > 2 { XCTAssertFalse(y[1].isNaN, "clean column") }
                }
            }
        }
    }

    /// The AVX2 and AVX-512 row reducers keep the portable lanes, tree and operand order: every row
    /// length's sum and max agree bit for bit (NaN as NaN), through tails of every size and signed
    /// zeros, infinities and NaNs in the tail lanes.
    func testRowChunksBitIdenticalAcrossISAs() {
        var rng = SeededValues(seed: 21)
        let lengths = Array(0...200) + [255, 256, 257, 1000, 4095, 4096, 4097, 8193]
        for n in lengths {
            let outer = 4
            var xv = rng.array(outer * n)
            if n > 0 {
                for j in 0..<n { xv[n + j] = -0.0 }                 // row 1: all -0
                xv[2 * n + n - 1] = .infinity                         // row 2: inf in the last lane
                xv[3 * n + (n * 7) % n] = .nan                        // row 3: a NaN
                if n > 1 { xv[3 * n + n - 1] = -.infinity }
            }
            let x = AlignedBuffer(xv)
            for op in [GG_REDUCE_SUM, GG_REDUCE_MAX] {
                let portable = reduce(x, outer, n, 1, op, threads: 1, isa: 0)
                for isa: Int32 in [1, 2] {
                    let y = reduce(x, outer, n, 1, op, threads: 1, isa: isa)
                    let what = "n \(n) op \(op.rawValue) isa \(isa)"
                    XCTAssertEqual(y.map { $0.isNaN ? Float.nan.bitPattern : $0.bitPattern },
                                   portable.map { $0.isNaN ? Float.nan.bitPattern : $0.bitPattern }, what)
                }
            }
        }
    }

    func testBadArguments() {
        let tc = TestContext(threads: 1)
        let b = AlignedBuffer(count: 4)
        XCTAssertEqual(gg_reduce_f32(&tc.ctx, b.pointer, b.pointer, -1, 1, 1, GG_REDUCE_SUM), GG_ERR_ARG)
        XCTAssertEqual(gg_reduce_f32(&tc.ctx, b.pointer, b.pointer, 1, 1, 1, gg_reduce_op(rawValue: 5)), GG_ERR_ARG)
    }
}
