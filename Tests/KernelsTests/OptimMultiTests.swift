import Kernels
import XCTest

/// Multi-tensor optimiser updates must equal the single-tensor kernels called
/// one tensor at a time (then gg_unary_f32 CLAMP when clipping), bit for bit.
final class OptimMultiTests: XCTestCase {
    private let sizes: [Int64] = [1000, 70_001, 17, 0, 130_000]

    /// A group of tensors: params, two state slots and grads, deterministic values.
    private final class Group {
        let p: [AlignedBuffer], s1: [AlignedBuffer], s2: [AlignedBuffer], g: [AlignedBuffer]
        init(_ sizes: [Int64], seed: UInt64) {
            var r = SeededValues(seed: seed)
            p = sizes.map { AlignedBuffer(r.array(Int($0), -1.2, 1.2)) }
            s1 = sizes.map { AlignedBuffer(r.array(Int($0), 0, 0.1)) } // >= 0: RMSProp's square average
            s2 = sizes.map { AlignedBuffer(r.array(Int($0), 0, 0.01)) }
            g = sizes.map { AlignedBuffer(r.array(Int($0), -1, 1)) }
        }
        /// A copy of another group's values (cheaper than generating them again).
        init(copying o: Group) {
            p = o.p.map(AlignedBuffer.init(copying:))
            s1 = o.s1.map(AlignedBuffer.init(copying:))
            s2 = o.s2.map(AlignedBuffer.init(copying:))
            g = o.g.map(AlignedBuffer.init(copying:))
        }
        var ptrs: ([UnsafeMutablePointer<Float>?], [UnsafeMutablePointer<Float>?], [UnsafeMutablePointer<Float>?], [UnsafePointer<Float>?]) {
            (p.map { $0.pointer }, s1.map { $0.pointer }, s2.map { $0.pointer }, g.map { UnsafePointer($0.pointer) })
        }
        func state() -> [[Float]] { p.map(\.array) + s1.map(\.array) + s2.map(\.array) }
    }

    private func clampLoop(_ grp: Group, _ ctx: inout gg_ctx, _ lo: Float, _ hi: Float) {
        for (i, n) in sizes.enumerated() {
            XCTAssertEqual(gg_unary_f32(&ctx, grp.p[i].pointer, grp.p[i].pointer, n, GG_UNARY_CLAMP, lo, hi), GG_OK)
        }
    }

    /// Three steps (numbered 1...3 for the closures) of the multi kernel and of the single ones, on
    /// each of `counts` threads.
    private func check(_ name: String, counts: [Int32] = threadCounts,
                       multi: (Group, inout gg_ctx, Int64, Int32, Float, Float) -> gg_status,
                       single: (Group, Int, inout gg_ctx, Int64) -> gg_status) {
        let start = Group(sizes, seed: 3)
        for clip in [false, true] {
            assertSameOnThreadCounts(counts, "\(name) clip \(clip)") { threads in
                let a = Group(copying: start), b = Group(copying: start)
                let tc = TestContext(threads: threads)
                for step: Int64 in 1...3 {
                    XCTAssertEqual(multi(a, &tc.ctx, step, clip ? 1 : 0, -1, 1), GG_OK, name)
                    for i in sizes.indices { XCTAssertEqual(single(b, i, &tc.ctx, step), GG_OK, name) }
                    if clip { clampLoop(b, &tc.ctx, -1, 1) }
                }
                let sa = a.state(), sb = b.state()
                for k in sa.indices { assertBitIdentical(sa[k], sb[k], "\(name) clip \(clip) threads \(threads) slot \(k)") }
                if clip { for t in a.p { XCTAssertTrue(t.array.allSatisfy { $0 >= -1 && $0 <= 1 }) } }
                return sa
            }
        }
    }

    func testAdamMultiEqualsSingle() {
        check("adam", multi: { grp, ctx, step, clip, lo, hi in
            let (p, m, v, g) = grp.ptrs
            return gg_adam_multi_f32(&ctx, Int32(self.sizes.count), p, m, v, g, self.sizes,
                                     1e-2, 0.9, 0.999, 1e-8, step, clip, lo, hi)
        }, single: { grp, i, ctx, step in
            gg_adam_f32(&ctx, grp.p[i].pointer, grp.s1[i].pointer, grp.s2[i].pointer, grp.g[i].pointer, self.sizes[i],
                        1e-2, 0.9, 0.999, 1e-8, step)
        })
    }

    func testRMSPropMultiEqualsSingle() {
        check("rmsprop", multi: { grp, ctx, _, clip, lo, hi in
            let (p, s, _, g) = grp.ptrs
            return gg_rmsprop_multi_f32(&ctx, Int32(self.sizes.count), p, s, g, self.sizes, 5e-3, 0.99, 1e-8, clip, lo, hi)
        }, single: { grp, i, ctx, _ in
            gg_rmsprop_f32(&ctx, grp.p[i].pointer, grp.s1[i].pointer, grp.g[i].pointer, self.sizes[i], 5e-3, 0.99, 1e-8)
        })
    }

    func testSGDMultiEqualsSingle() {
        for (momentum, nesterov, first) in [(Float(0), Int32(0), Int32(0)), (0.9, 0, 1), (0.9, 0, 0), (0.9, 1, 0), (0.5, 1, 1)] {
            // five settings: the even and the odd team each (the others split the same group)
            check("sgd m\(momentum) n\(nesterov) f\(first)", counts: fewThreadCounts, multi: { grp, ctx, _, clip, lo, hi in
                let (p, b, _, g) = grp.ptrs
                return gg_sgd_multi_f32(&ctx, Int32(self.sizes.count), p, momentum == 0 ? nil : b, g, self.sizes,
                                        0.1, momentum, nesterov, first, clip, lo, hi)
            }, single: { grp, i, ctx, _ in
                gg_sgd_f32(&ctx, grp.p[i].pointer, momentum == 0 ? nil : grp.s1[i].pointer, grp.g[i].pointer, self.sizes[i],
                           0.1, momentum, nesterov, first)
            })
        }
    }

    private enum Rule {
        case sgd(momentum: Float, nesterov: Int32, first: Int32), rmsprop, adam(step: Int64)
    }

    /// One step of `rule` over the group: the multi kernel, or the composition of scalar references
    /// (each tensor's single-tensor reference, then gg_unary_f32_ref CLAMP when clipping).
    private func step(_ rule: Rule, _ grp: Group, _ ctx: inout gg_ctx, clip: Bool, reference: Bool) {
        let (p, s1, s2, g) = grp.ptrs
        let count = Int32(sizes.count), c: Int32 = clip ? 1 : 0
        if !reference {
            let st: gg_status
            switch rule {
            case let .sgd(momentum, nesterov, first):
                st = gg_sgd_multi_f32(&ctx, count, p, momentum == 0 ? nil : s1, g, sizes, 0.1, momentum, nesterov, first, c, -1, 1)
            case .rmsprop: st = gg_rmsprop_multi_f32(&ctx, count, p, s1, g, sizes, 5e-3, 0.99, 1e-8, c, -1, 1)
            case let .adam(t): st = gg_adam_multi_f32(&ctx, count, p, s1, s2, g, sizes, 1e-2, 0.9, 0.999, 1e-8, t, c, -1, 1)
            }
            XCTAssertEqual(st, GG_OK)
            return
        }
        for i in sizes.indices {
            let st: gg_status
            switch rule {
            case let .sgd(momentum, nesterov, first):
                st = gg_sgd_f32_ref(&ctx, p[i], momentum == 0 ? nil : s1[i], g[i], sizes[i], 0.1, momentum, nesterov, first)
            case .rmsprop: st = gg_rmsprop_f32_ref(&ctx, p[i], s1[i], g[i], sizes[i], 5e-3, 0.99, 1e-8)
            case let .adam(t): st = gg_adam_f32_ref(&ctx, p[i], s1[i], s2[i], g[i], sizes[i], 1e-2, 0.9, 0.999, 1e-8, t)
            }
            XCTAssertEqual(st, GG_OK)
            if clip { XCTAssertEqual(gg_unary_f32_ref(&ctx, p[i], p[i], sizes[i], GG_UNARY_CLAMP, -1, 1), GG_OK) }
        }
    }

    /// Bounds on |kernel - reference| for tensor i's parameters and state slots after one step from
    /// `old`, given the reference's results `new`. Each value is a few float operations: each side
    /// rounds every term at most 8 times, so they differ by at most gamma(16) times the sum of the
    /// terms' magnitudes (T below); where a value feeds the update (Adam's moments, RMSProp's square
    /// average), its own error is carried through the update's derivative; clamping is 1-Lipschitz.
    private func bounds(_ rule: Rule, old: Group, new: Group, _ i: Int) -> (p: [Double], s1: [Double], s2: [Double]) {
        let e = gamma(16), n = Int(sizes[i])
        var bp = [Double](repeating: 0, count: n), b1 = bp, b2 = bp
        for k in 0..<n {
            let p = Double(abs(old.p[i].pointer[k])), g = Double(old.g[i].pointer[k])
            let s1 = Double(old.s1[i].pointer[k])
            switch rule {
            case let .sgd(momentum, nesterov, first):
                let m = Double(momentum)
                let buf = momentum == 0 ? 0 : (first != 0 ? abs(g) : abs(m * s1) + abs(g)) // T of the new buffer
                let d = momentum == 0 ? abs(g) : (nesterov != 0 ? abs(g) + abs(m) * buf : buf)
                b1[k] = e * buf
                bp[k] = e * (p + 0.1 * d)
            case .rmsprop:
                let sq = Double(new.s1[i].pointer[k]) // = T: both terms are non-negative
                let update = 5e-3 * abs(g) / (sq.squareRoot() + 1e-8)
                b1[k] = e * sq
                bp[k] = e * (p + update) + update * e / 2
            case let .adam(t):
                let bc1 = 1 - pow(0.9, Double(t)), bc2 = 1 - pow(0.999, Double(t))
                let m = Double(new.s1[i].pointer[k]), v = Double(new.s2[i].pointer[k]) // v = T: non-negative terms
                let mT = abs(0.9 * s1) + abs(0.1 * g)
                let den = (v / bc2).squareRoot() + 1e-8, update = 1e-2 * abs(m) / bc1 / den
                b1[k] = e * mT
                b2[k] = e * v
                bp[k] = e * (p + update) + 1e-2 / bc1 * e * mT / den + update * e / 2
            }
        }
        return (bp, b1, b2)
    }

    /// Against compositions of scalar references, one step from the same state. On the portable ISA
    /// the SGD and RMSProp kernels, and Adam's moment updates, evaluate each element with the
    /// reference's operations in the reference's order (that variant is compiled without FMA, so
    /// nothing is contracted), and clamping is the same select: bit for bit. Adam's parameter (the
    /// reference works in double) and every rule on FMA ISAs (a*b + c may round once) agree within
    /// the bounds above.
    func testMultiMatchesScalarReferences() {
        let rules: [Rule] = [.sgd(momentum: 0, nesterov: 0, first: 0), .sgd(momentum: 0.9, nesterov: 0, first: 1),
                             .sgd(momentum: 0.9, nesterov: 1, first: 0), .rmsprop, .adam(step: 1), .adam(step: 7)]
        let old = Group(sizes, seed: 5)
        for rule in rules {
            for clip in [false, true] {
                for isa: Int32 in [0, -1] {
                    let fast = Group(copying: old), ref = Group(copying: old)
                    let tc = TestContext(threads: 2, isa: isa), rc = TestContext(threads: 1)
                    step(rule, fast, &tc.ctx, clip: clip, reference: false)
                    step(rule, ref, &rc.ctx, clip: clip, reference: true)
                    let what = "\(rule) clip \(clip) isa \(isa)"
                    var isAdam = false
                    if case .adam = rule { isAdam = true }
                    for i in sizes.indices {
                        if isa == 0 {
                            if !isAdam { assertBitIdentical(fast.p[i].array, ref.p[i].array, "parameters " + what) }
                            assertBitIdentical(fast.s1[i].array, ref.s1[i].array, "first slot " + what)
                            assertBitIdentical(fast.s2[i].array, ref.s2[i].array, "second slot " + what)
                            if !isAdam { continue }
                        }
                        let b = bounds(rule, old: old, new: ref, i)
                        assertWithinBound(fast.p[i].array, ref.p[i].array, b.p, "parameters " + what)
                        if isa == 0 { continue }
                        assertWithinBound(fast.s1[i].array, ref.s1[i].array, b.s1, "first slot " + what)
                        assertWithinBound(fast.s2[i].array, ref.s2[i].array, b.s2, "second slot " + what)
                    }
                }
            }
        }
    }

    func testMultiRejectsBadArguments() {
        let grp = Group([4, 5], seed: 1)
        let (p, m, v, g) = grp.ptrs
        let tc = TestContext(threads: 1)
        XCTAssertEqual(gg_adam_multi_f32(&tc.ctx, 2, p, m, v, g, [4, -5], 1e-3, 0.9, 0.999, 1e-8, 1, 0, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_adam_multi_f32(&tc.ctx, 2, p, m, v, g, [4, 5], 1e-3, 0.9, 0.999, 1e-8, 0, 0, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_adam_multi_f32(&tc.ctx, 2, p, m, nil, g, [4, 5], 1e-3, 0.9, 0.999, 1e-8, 1, 0, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_rmsprop_multi_f32(&tc.ctx, -1, p, m, g, [4, 5], 1e-3, 0.9, 1e-8, 0, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_sgd_multi_f32(&tc.ctx, 2, p, nil, g, [4, 5], 0.1, 0.9, 0, 0, 0, 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_sgd_multi_f32(&tc.ctx, 2, p, nil, g, [4, 5], 0.1, 0, 0, 0, 0, 0, 0), GG_OK)
        XCTAssertEqual(gg_sgd_multi_f32(&tc.ctx, 0, nil, nil, nil, nil, 0.1, 0.9, 0, 0, 0, 0, 0), GG_OK)
    }
}
