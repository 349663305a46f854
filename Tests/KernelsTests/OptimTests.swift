import Kernels
import XCTest

/// Optimiser updates (gg_optim.c) against the literal header formulas in gg_ref_optim.c.
final class OptimTests: XCTestCase {
    static let sizes = [0, 1, 7, 129, 1_000_003]

    struct State {
        var p: AlignedBuffer, s1: AlignedBuffer, s2: AlignedBuffer
        init(_ n: Int, seed: UInt64) {
            var r = SeededValues(seed: seed)
            p = AlignedBuffer(r.array(n))
            s1 = AlignedBuffer(r.array(n, 0, 1))
            s2 = AlignedBuffer(r.array(n, 0, 1))
        }
    }

    func grads(_ n: Int, step: Int) -> AlignedBuffer {
        var r = SeededValues(seed: UInt64(100 + step))
        return AlignedBuffer(r.array(n, -2, 2))
    }

    func testSGDPlainMomentumNesterov() {
        for n in Self.sizes {
            for (momentum, nesterov) in [(Float(0), Int32(0)), (0.9, 0), (0.9, 1)] {
                for isa: Int32 in [0, 1, 2] {
                    let fast = State(n, seed: 1), ref = State(n, seed: 1)
                    let tc = TestContext(threads: 2, isa: isa), rc = TestContext(threads: 1)
                    for step in 0..<3 {
                        let g = grads(n, step: step)
                        let first: Int32 = step == 0 ? 1 : 0
                        XCTAssertEqual(gg_sgd_f32(&tc.ctx, fast.p.pointer, fast.s1.pointer, g.pointer, Int64(n),
                                                  0.1, momentum, nesterov, first), GG_OK)
                        XCTAssertEqual(gg_sgd_f32_ref(&rc.ctx, ref.p.pointer, ref.s1.pointer, g.pointer, Int64(n),
                                                      0.1, momentum, nesterov, first), GG_OK)
                        let what = "sgd n \(n) momentum \(momentum) nesterov \(nesterov) isa \(isa) step \(step)"
                        assertClose(fast.p.array, ref.p.array, rtol: 1e-6, atol: 1e-6, what)
                        if momentum != 0 { assertClose(fast.s1.array, ref.s1.array, rtol: 1e-6, atol: 1e-6, what) }
                    }
                }
            }
        }
    }

    func testSGDFirstStepSetsBufferToGradient() {
        let tc = TestContext(threads: 1)
        let p = AlignedBuffer([1, 2, 3]), buf = AlignedBuffer([9, 9, 9]), g = AlignedBuffer([0.5, -1, 2])
        XCTAssertEqual(gg_sgd_f32(&tc.ctx, p.pointer, buf.pointer, g.pointer, 3, 0.1, 0.9, 0, 1), GG_OK)
        XCTAssertEqual(buf.array, [0.5, -1, 2])
        assertClose(p.array, [0.95, 2.1, 2.8])
        // momentum 0 never touches the buffer, which may be NULL
        XCTAssertEqual(gg_sgd_f32(&tc.ctx, p.pointer, nil, g.pointer, 3, 0.1, 0, 0, 0), GG_OK)
        assertClose(p.array, [0.9, 2.2, 2.6])
    }

    func testAdamBiasCorrectionSteps1To10() {
        for n in Self.sizes {
            for isa: Int32 in [0, 1, 2] {
                let fast = State(n, seed: 2), ref = State(n, seed: 2)
                // Adam starts from zero moments
                fast.s1.pointer.initialize(repeating: 0, count: max(n, 1)); fast.s2.pointer.initialize(repeating: 0, count: max(n, 1))
                ref.s1.pointer.initialize(repeating: 0, count: max(n, 1)); ref.s2.pointer.initialize(repeating: 0, count: max(n, 1))
                let tc = TestContext(threads: 2, isa: isa), rc = TestContext(threads: 1)
                for step in 1...10 {
                    let g = grads(n, step: step)
                    XCTAssertEqual(gg_adam_f32(&tc.ctx, fast.p.pointer, fast.s1.pointer, fast.s2.pointer, g.pointer,
                                               Int64(n), 1e-2, 0.9, 0.999, 1e-8, Int64(step)), GG_OK)
                    XCTAssertEqual(gg_adam_f32_ref(&rc.ctx, ref.p.pointer, ref.s1.pointer, ref.s2.pointer, g.pointer,
                                                   Int64(n), 1e-2, 0.9, 0.999, 1e-8, Int64(step)), GG_OK)
                    if step == 1 || step == 10 || n < 200 {
                        let what = "adam n \(n) isa \(isa) step \(step)"
                        assertClose(fast.p.array, ref.p.array, rtol: 1e-5, atol: 1e-6, what)
                        assertClose(fast.s1.array, ref.s1.array, rtol: 1e-5, atol: 1e-7, what)
                        assertClose(fast.s2.array, ref.s2.array, rtol: 1e-5, atol: 1e-7, what)
                    }
                }
            }
        }
        // step 1 moves every parameter by about lr * sign(g) (bias correction undoes the betas)
        let tc = TestContext(threads: 1)
        let p = AlignedBuffer([0, 0]), m = AlignedBuffer([0, 0]), v = AlignedBuffer([0, 0]), g = AlignedBuffer([3, -0.001])
        XCTAssertEqual(gg_adam_f32(&tc.ctx, p.pointer, m.pointer, v.pointer, g.pointer, 2, 0.1, 0.9, 0.999, 1e-8, 1), GG_OK)
        assertClose(p.array, [-0.1, 0.1], rtol: 1e-4)
        XCTAssertEqual(gg_adam_f32(&tc.ctx, p.pointer, m.pointer, v.pointer, g.pointer, 2, 0.1, 0.9, 0.999, 1e-8, 0), GG_ERR_ARG)
    }

    func testRMSProp() {
        for n in Self.sizes {
            for isa: Int32 in [0, 1, 2] {
                let fast = State(n, seed: 3), ref = State(n, seed: 3)
                let tc = TestContext(threads: 2, isa: isa), rc = TestContext(threads: 1)
                for step in 0..<3 {
                    let g = grads(n, step: step)
                    XCTAssertEqual(gg_rmsprop_f32(&tc.ctx, fast.p.pointer, fast.s1.pointer, g.pointer, Int64(n),
                                                  1e-2, 0.99, 1e-8), GG_OK)
                    XCTAssertEqual(gg_rmsprop_f32_ref(&rc.ctx, ref.p.pointer, ref.s1.pointer, g.pointer, Int64(n),
                                                      1e-2, 0.99, 1e-8), GG_OK)
                    let what = "rmsprop n \(n) isa \(isa) step \(step)"
                    assertClose(fast.p.array, ref.p.array, rtol: 1e-5, atol: 1e-6, what)
                    assertClose(fast.s1.array, ref.s1.array, rtol: 1e-5, atol: 1e-7, what)
                }
            }
        }
    }

    func testThreadsGiveIdenticalBits() {
        let n = 300_007
        let g = grads(n, step: 1)
        assertSameOnThreadCounts(threadCounts, "adam") { threads in
            let s = State(n, seed: 4)
            let tc = TestContext(threads: threads)
            XCTAssertEqual(gg_adam_f32(&tc.ctx, s.p.pointer, s.s1.pointer, s.s2.pointer, g.pointer, Int64(n), 1e-3, 0.9, 0.999, 1e-8, 3), GG_OK)
            return [s.p.array, s.s1.array, s.s2.array]
        }
    }
}
