import Kernels
import XCTest

/// Counter-based Philox generators (gg_random.c) against the per-element reference.
final class RandomTests: XCTestCase {
    typealias Gen = (UnsafePointer<gg_ctx>?, UnsafeMutablePointer<Float>?, Int64, UInt64, UInt64) -> gg_status

    func generate(_ gen: Gen, _ n: Int, seed: UInt64, offset: UInt64, threads: Int32, isa: Int32 = -1) -> [Float] {
        let y = AlignedBuffer(count: n)
        let tc = TestContext(threads: threads, isa: isa)
        XCTAssertEqual(gen(&tc.ctx, y.pointer, Int64(n), seed, offset), GG_OK)
        return y.array
    }

    func testUniformMatchesReferenceBitForBit() {
        for n in [0, 1, 7, 129, 1_000_003] {
            for offset: UInt64 in [0, 3, 1 << 40] {
                let ref = generate(gg_rand_uniform_f32_ref, n, seed: 42, offset: offset, threads: 1)
                for isa: Int32 in [0, 1, 2] {
                    assertBitIdentical(generate(gg_rand_uniform_f32, n, seed: 42, offset: offset, threads: 2, isa: isa),
                                       ref, "n \(n) offset \(offset) isa \(isa)")
                }
            }
        }
    }

    func testNormalMatchesReference() {
        for n in [0, 1, 7, 129, 1_000_003] {
            let ref = generate(gg_rand_normal_f32_ref, n, seed: 7, offset: 5, threads: 1)
            for isa: Int32 in [0, 1, 2] {
                // vectorised log/sin/cos vs the double-precision reference
                assertClose(generate(gg_rand_normal_f32, n, seed: 7, offset: 5, threads: 2, isa: isa), ref,
                            rtol: 2e-6, atol: 2e-6, "n \(n) isa \(isa)")
            }
        }
    }

    func testThreadsAndSplitsGiveIdenticalBits() {
        for gen in [gg_rand_uniform_f32, gg_rand_normal_f32] as [Gen] {
            let n = 1_000_003
            let one = assertSameOnThreadCounts(threadCounts, "threads") {
                [generate(gen, n, seed: 0xDEAD_BEEF_1234, offset: 17, threads: $0)]
            }[0]
            for split in [1, 2, 333, 500_000] {
                let head = generate(gen, split, seed: 0xDEAD_BEEF_1234, offset: 17, threads: 2)
                let tail = generate(gen, n - split, seed: 0xDEAD_BEEF_1234, offset: 17 + UInt64(split), threads: 1)
                assertBitIdentical(head + tail, one, "split at \(split)")
            }
            XCTAssertNotEqual(generate(gen, 16, seed: 1, offset: 0, threads: 1),
                              generate(gen, 16, seed: 2, offset: 0, threads: 1), "seed changes the stream")
        }
    }

    func testMomentsAndRange() {
        let n = 1_000_000
        let u = generate(gg_rand_uniform_f32, n, seed: 2024, offset: 0, threads: 2)
        XCTAssertTrue(u.allSatisfy { $0 >= 0 && $0 < 1 }, "uniform in [0, 1)")
        var s = 0.0, s2 = 0.0
        for v in u { s += Double(v); s2 += Double(v) * Double(v) }
        XCTAssertEqual(s / Double(n), 0.5, accuracy: 0.002)
        XCTAssertEqual(s2 / Double(n) - (s / Double(n)) * (s / Double(n)), 1.0 / 12.0, accuracy: 0.001)

        let z = generate(gg_rand_normal_f32, n, seed: 2024, offset: 0, threads: 2)
        XCTAssertTrue(z.allSatisfy { $0.isFinite }, "normal finite")
        s = 0; s2 = 0
        var s4 = 0.0
        for v in z { let d = Double(v); s += d; s2 += d * d; s4 += d * d * d * d }
        let mean = s / Double(n), variance = s2 / Double(n) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 0.005)
        XCTAssertEqual(variance, 1, accuracy: 0.01)
        XCTAssertEqual(s4 / Double(n), 3, accuracy: 0.05) // kurtosis of a Gaussian
    }

    func testNegativeCountIsRejected() {
        let tc = TestContext(threads: 1)
        let y = AlignedBuffer(count: 1)
        XCTAssertEqual(gg_rand_uniform_f32(&tc.ctx, y.pointer, -1, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_rand_normal_f32(&tc.ctx, y.pointer, -1, 0, 0), GG_ERR_ARG)
    }
}
