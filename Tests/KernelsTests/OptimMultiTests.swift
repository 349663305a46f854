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

    private func check(_ name: String, multi: (Group, inout gg_ctx, Int32, Float, Float) -> gg_status,
                       single: (Group, Int, inout gg_ctx) -> gg_status) {
        for clip in [false, true] {
            for threads: Int32 in [1, 2] {
                let a = Group(sizes, seed: 3), b = Group(sizes, seed: 3)
                let tc = TestContext(threads: threads)
                for step in 0..<3 {
                    _ = step
                    XCTAssertEqual(multi(a, &tc.ctx, clip ? 1 : 0, -1, 1), GG_OK, name)
                    for i in sizes.indices { XCTAssertEqual(single(b, i, &tc.ctx), GG_OK, name) }
                    if clip { clampLoop(b, &tc.ctx, -1, 1) }
                }
                let sa = a.state(), sb = b.state()
                for k in sa.indices { assertBitIdentical(sa[k], sb[k], "\(name) clip \(clip) threads \(threads) slot \(k)") }
                if clip { for t in a.p { XCTAssertTrue(t.array.allSatisfy { $0 >= -1 && $0 <= 1 }) } }
            }
        }
    }

    func testAdamMultiEqualsSingle() {
        var step: Int64 = 0
        check("adam", multi: { grp, ctx, clip, lo, hi in
            step += 1
            let (p, m, v, g) = grp.ptrs
            return gg_adam_multi_f32(&ctx, Int32(self.sizes.count), p, m, v, g, self.sizes,
                                     1e-2, 0.9, 0.999, 1e-8, (step + 1) / 2, clip, lo, hi)
        }, single: { grp, i, ctx in
            gg_adam_f32(&ctx, grp.p[i].pointer, grp.s1[i].pointer, grp.s2[i].pointer, grp.g[i].pointer, self.sizes[i],
                        1e-2, 0.9, 0.999, 1e-8, (step + 1) / 2)
        })
    }

    func testRMSPropMultiEqualsSingle() {
        check("rmsprop", multi: { grp, ctx, clip, lo, hi in
            let (p, s, _, g) = grp.ptrs
            return gg_rmsprop_multi_f32(&ctx, Int32(self.sizes.count), p, s, g, self.sizes, 5e-3, 0.99, 1e-8, clip, lo, hi)
        }, single: { grp, i, ctx in
            gg_rmsprop_f32(&ctx, grp.p[i].pointer, grp.s1[i].pointer, grp.g[i].pointer, self.sizes[i], 5e-3, 0.99, 1e-8)
        })
    }

    func testSGDMultiEqualsSingle() {
        for (momentum, nesterov, first) in [(Float(0), Int32(0), Int32(0)), (0.9, 0, 1), (0.9, 0, 0), (0.9, 1, 0), (0.5, 1, 1)] {
            check("sgd m\(momentum) n\(nesterov) f\(first)", multi: { grp, ctx, clip, lo, hi in
                let (p, b, _, g) = grp.ptrs
                return gg_sgd_multi_f32(&ctx, Int32(self.sizes.count), p, momentum == 0 ? nil : b, g, self.sizes,
                                        0.1, momentum, nesterov, first, clip, lo, hi)
            }, single: { grp, i, ctx in
                gg_sgd_f32(&ctx, grp.p[i].pointer, momentum == 0 ? nil : grp.s1[i].pointer, grp.g[i].pointer, self.sizes[i],
                           0.1, momentum, nesterov, first)
            })
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
