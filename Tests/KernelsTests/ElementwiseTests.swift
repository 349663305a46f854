import Kernels
import XCTest

/// Elementwise kernels (gg_elementwise.c) against their scalar references.
final class ElementwiseTests: XCTestCase {
    static let sizes = [0, 1, 7, 129, 1_000_003]
    static let isas: [Int32] = [0, 1, 2] // clamped to the CPU by gg_ctx_isa

    /// Values spanning small, moderate, large, tiny (denormal) and special inputs.
    static func unaryInputs(_ n: Int, op: gg_unary_op, seed: UInt64) -> [Float] {
        var rng = SeededValues(seed: seed)
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1e-45, -1e-45, 1e-38, 88.72, 88.73,
                                 -87.3, -103.9, -104.5, 1e4, -1e4, 1e30, -1e30, 3.4e38, -1, -0.999999,
                                 1e-7, -1e-7, 0.4375, -0.4375, 9, 20, -20, 100, -100]
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n {
            switch i % 4 {
            case 0: x[i] = rng.next(-1, 1)
            case 1: x[i] = rng.next(-10, 10)
            case 2: x[i] = rng.next(-100, 100)
            default:
                let m = rng.next(0.5, 1), e = Int(rng.next(-140, 127))
                x[i] = Float(sign: rng.next() < 0 ? .minus : .plus, exponent: e, significand: m)
            }
            if i < specials.count && n > 200 { x[i] = specials[i] }
            if op == GG_UNARY_LOG || op == GG_UNARY_SQRT || op == GG_UNARY_RSQRT, i % 3 != 0 { x[i] = abs(x[i]) }
            if op == GG_UNARY_LOG1P, i % 5 == 0, i >= specials.count { x[i] = rng.next(-1, 0) }
            // Within sin and cos's vectorised range (|x| <= 1e6) but for the specials, so a row
            // without them takes the vector path and one with them the element-by-element one.
            if op == GG_UNARY_SIN || op == GG_UNARY_COS, i % 4 == 3, i >= specials.count {
                x[i] = Float(sign: rng.next() < 0 ? .minus : .plus, exponent: Int(rng.next(-140, 19)), significand: rng.next(1, 2))
            }
        }
        return x
    }

    static let exactUnary: Set<UInt32> = [GG_UNARY_NEG, GG_UNARY_ABS, GG_UNARY_SIGN, GG_UNARY_SQRT, GG_UNARY_RSQRT,
                                          GG_UNARY_SQUARE, GG_UNARY_RELU, GG_UNARY_LEAKY_RELU, GG_UNARY_CLAMP]
        .reduce(into: []) { $0.insert(UInt32($1.rawValue)) }

    func runUnary(_ x: [Float], op: gg_unary_op, threads: Int32, isa: Int32, inPlace: Bool = false) -> [Float] {
        let tc = TestContext(threads: threads, isa: isa)
        let xb = AlignedBuffer(x)
        let yb = inPlace ? xb : AlignedBuffer(count: x.count)
        XCTAssertEqual(gg_unary_f32(&tc.ctx, yb.pointer, xb.pointer, Int64(x.count), op, -0.5, 0.25), GG_OK)
        return yb.array
    }

    func referenceUnary(_ x: [Float], op: gg_unary_op) -> [Float] {
        let tc = TestContext(threads: 1)
        let xb = AlignedBuffer(x), yb = AlignedBuffer(count: x.count)
        XCTAssertEqual(gg_unary_f32_ref(&tc.ctx, yb.pointer, xb.pointer, Int64(x.count), op, -0.5, 0.25), GG_OK)
        return yb.array
    }

    func testUnaryEveryOpEveryISAMatchesReference() {
        for raw in 0..<Int(GG_UNARY_COUNT.rawValue) {
            let op = gg_unary_op(rawValue: numericCast(raw))
            for n in Self.sizes {
                let x = Self.unaryInputs(n, op: op, seed: UInt64(raw * 31 + n))
                let ref = referenceUnary(x, op: op)
                for isa in Self.isas {
                    let y = runUnary(x, op: op, threads: 2, isa: isa)
                    if Self.exactUnary.contains(UInt32(op.rawValue)) {
                        assertBitIdentical(y, ref, "op \(raw) n \(n) isa \(isa)")
                    } else {
                        // vectorised transcendentals: within a few ulp of libm
                        assertCloseOrSameInfinity(y, ref, "op \(raw) n \(n) isa \(isa)")
                    }
                }
            }
        }
    }

    /// assertClose at rel 2e-6 / abs 1e-7, after requiring infinities to match exactly.
    func assertCloseOrSameInfinity(_ y: [Float], _ ref: [Float], _ message: String) {
        var a = y, b = ref
        for i in 0..<a.count where a[i].isInfinite || b[i].isInfinite {
            if a[i] != b[i] {
                XCTFail("index \(i): \(a[i]) vs reference \(b[i]) \(message)")
                return
            }
            a[i] = 0; b[i] = 0
        }
        assertClose(a, b, rtol: 2e-6, atol: 1e-7, message)
    }

    func testUnaryThreadsAndInPlaceAreBitIdentical() {
        for raw in 0..<Int(GG_UNARY_COUNT.rawValue) {
            let op = gg_unary_op(rawValue: numericCast(raw))
            let x = Self.unaryInputs(300_007, op: op, seed: UInt64(raw))
            let one = assertSameOnThreadCounts(threadCounts, "op \(raw)") { [runUnary(x, op: op, threads: $0, isa: -1)] }[0]
            assertBitIdentical(runUnary(x, op: op, threads: 3, isa: -1, inPlace: true), one, "in place op \(raw)")
        }
    }

    func testUnarySpecialValues() {
        func u(_ op: gg_unary_op, _ v: Float, _ p0: Float = 0, _ p1: Float = 0) -> Float {
            let tc = TestContext(threads: 1)
            var x = v, y: Float = 0
            XCTAssertEqual(gg_unary_f32(&tc.ctx, &y, &x, 1, op, p0, p1), GG_OK)
            return y
        }
        XCTAssertEqual(u(GG_UNARY_SIGMOID, 1e4), 1)
        XCTAssertEqual(u(GG_UNARY_SIGMOID, -1e4), 0)
        XCTAssertEqual(u(GG_UNARY_SIGMOID, 0), 0.5)
        XCTAssertEqual(u(GG_UNARY_SOFTPLUS, 1e4), 1e4)
        XCTAssertEqual(u(GG_UNARY_SOFTPLUS, -1e4), 0)
        XCTAssertEqual(u(GG_UNARY_TANH, 1e4), 1)
        XCTAssertEqual(u(GG_UNARY_TANH, -1e4), -1)
        XCTAssertEqual(u(GG_UNARY_EXP, .infinity), .infinity)
        XCTAssertEqual(u(GG_UNARY_EXP, -.infinity), 0)
        XCTAssertEqual(u(GG_UNARY_EXP, 0), 1)
        XCTAssertEqual(u(GG_UNARY_EXP, 100), .infinity)
        XCTAssertEqual(u(GG_UNARY_LOG, 0), -.infinity)
        XCTAssertEqual(u(GG_UNARY_LOG, 1), 0)
        XCTAssertEqual(u(GG_UNARY_LOG, .infinity), .infinity)
        XCTAssertTrue(u(GG_UNARY_LOG, -1).isNaN)
        XCTAssertEqual(u(GG_UNARY_LOG1P, -1), -.infinity)
        XCTAssertEqual(u(GG_UNARY_LOG1P, 1e-30), 1e-30)
        XCTAssertTrue(u(GG_UNARY_LOG1P, -2).isNaN)
        for op in [GG_UNARY_RELU, GG_UNARY_SIGN, GG_UNARY_CLAMP, GG_UNARY_EXP, GG_UNARY_LOG, GG_UNARY_TANH,
                   GG_UNARY_SIGMOID, GG_UNARY_SOFTPLUS, GG_UNARY_LOG1P, GG_UNARY_LEAKY_RELU, GG_UNARY_SILU] {
            XCTAssertTrue(u(op, .nan, -1, 1).isNaN, "op \(op.rawValue) of NaN")
        }
        XCTAssertEqual(u(GG_UNARY_CLAMP, 5, -1, 1), 1)
        XCTAssertEqual(u(GG_UNARY_CLAMP, -5, -1, 1), -1)
        XCTAssertEqual(u(GG_UNARY_LEAKY_RELU, -2, 0.1), -0.2)
        XCTAssertEqual(u(GG_UNARY_SIGN, -3), -1)
        XCTAssertEqual(u(GG_UNARY_SIGN, 0), 0)
        XCTAssertEqual(u(GG_UNARY_SILU, .infinity), .infinity)
        XCTAssertEqual(u(GG_UNARY_SILU, -.infinity).bitPattern, Float(-0.0).bitPattern, "the limit, not -inf * 0")
        XCTAssertEqual(u(GG_UNARY_SILU, 1e4), 1e4)
        XCTAssertEqual(u(GG_UNARY_SILU, -1e4), 0)
        XCTAssertEqual(u(GG_UNARY_SILU, 0), 0)
        XCTAssertEqual(u(GG_UNARY_SIN, 0), 0)
        XCTAssertEqual(u(GG_UNARY_SIN, -0.0).bitPattern, Float(-0.0).bitPattern)
        XCTAssertEqual(u(GG_UNARY_COS, 0), 1)
        XCTAssertEqual(u(GG_UNARY_SIN, 1e-30), 1e-30)
        for op in [GG_UNARY_SIN, GG_UNARY_COS] {
            XCTAssertTrue(u(op, .infinity).isNaN && u(op, -.infinity).isNaN && u(op, .nan).isNaN, "op \(op.rawValue) of inf, NaN")
        }
        XCTAssertTrue(u(GG_UNARY_SILU, .nan).isNaN)
    }

    /// sin and cos reduce |x| <= 1e6 in vectorised double arithmetic and hand a row holding a
    /// larger |x| (or inf, NaN) to libm element by element: across magnitudes from denormal to
    /// 1e6, both ways agree with libm (rel 2e-6 / abs 1e-7, as every transcendental), and an
    /// element's value is the same bits whichever way its row went.
    func testSinAndCosAcrossTheReducedRange() {
        var rng = SeededValues(seed: 77)
        let n = 4099
        var x = (0..<n).map { _ in Float(sign: rng.next() < 0 ? .minus : .plus, exponent: Int(rng.next(-149, 19)),
                                        significand: rng.next(1, 2)) }
        // Near multiples of pi/2, where the reduction cancels most, and the range's edge.
        for k in 0..<64 { x[k] = Float(Double(k * 9973 + 1) * Double.pi / 2) }
        x[64] = 1e6; x[65] = -1e6; x[66] = Float(1e6).nextDown
        for op in [GG_UNARY_SIN, GG_UNARY_COS] {
            let ref = referenceUnary(x, op: op)
            for isa in Self.isas {
                let vector = runUnary(x, op: op, threads: 1, isa: isa)
                assertCloseOrSameInfinity(vector, ref, "op \(op.rawValue) isa \(isa)")
                let mixed = runUnary(x + [Float(1e7).nextUp, .infinity], op: op, threads: 1, isa: isa)
                assertBitIdentical(Array(mixed.prefix(n)), vector, "op \(op.rawValue) isa \(isa): libm row")
                assertCloseOrSameInfinity(Array(mixed.suffix(2)), referenceUnary([Float(1e7).nextUp, .infinity], op: op), "beyond the range")
            }
        }
    }

    func testBadArgumentsAreRejected() {
        let tc = TestContext(threads: 1)
        let b = AlignedBuffer(count: 4)
        XCTAssertEqual(gg_unary_f32(&tc.ctx, b.pointer, b.pointer, 4, gg_unary_op(rawValue: 99), 0, 0), GG_ERR_ARG)
        XCTAssertEqual(gg_unary_f32(&tc.ctx, b.pointer, b.pointer, -1, GG_UNARY_NEG, 0, 0), GG_ERR_ARG)
        let shape: [Int64] = [4], s: [Int64] = [1]
        XCTAssertEqual(gg_binary_f32(&tc.ctx, b.pointer, b.pointer, s, b.pointer, s, shape, 9, GG_BINARY_ADD), GG_ERR_ARG)
        XCTAssertEqual(gg_binary_f32(&tc.ctx, b.pointer, b.pointer, s, b.pointer, s, shape, 1, gg_binary_op(rawValue: 77)), GG_ERR_ARG)
    }

    // MARK: binary / where / copy

    struct Case {
        var shape: [Int64], a: [Int64], b: [Int64], name: String
        var count: Int { shape.reduce(1) { $0 * Int($1) } }
    }

    /// Broadcast patterns over an operand buffer big enough for every case.
    static let cases: [Case] = [
        Case(shape: [], a: [], b: [], name: "rank 0"),
        Case(shape: [0], a: [1], b: [1], name: "empty"),
        Case(shape: [1], a: [1], b: [1], name: "one"),
        Case(shape: [7], a: [1], b: [0], name: "scalar b"),
        Case(shape: [129], a: [0], b: [1], name: "scalar a"),
        Case(shape: [1_000_003], a: [1], b: [1], name: "contiguous"),
        Case(shape: [1_000_003], a: [1], b: [0], name: "contiguous scalar"),
        Case(shape: [129, 7], a: [7, 1], b: [0, 1], name: "row broadcast"),
        Case(shape: [129, 7], a: [7, 1], b: [1, 0], name: "column broadcast"),
        Case(shape: [3, 5, 4, 6], a: [120, 24, 6, 1], b: [6, 0, 0, 1], name: "4-D zero strides in the middle"),
        Case(shape: [300, 301], a: [1, 300], b: [301, 1], name: "transposed a"),
        Case(shape: [2, 3, 200_000], a: [0, 200_000, 1], b: [1, 2, 0], name: "large broadcast"),
        Case(shape: [1000, 1000], a: [1000, 1], b: [0, 0], name: "2-D scalar b"),
        Case(shape: [2, 1, 3, 1, 2, 1, 2, 3], a: [36, 0, 12, 0, 6, 0, 3, 1], b: [0, 5, 1, 7, 0, 0, 3, 0],
             name: "rank 8"),
    ]

    static let operandA: [Float] = {
        var r = SeededValues(seed: 11)
        var v = r.array(1 << 20, -3, 3)
        v[5] = .nan; v[40] = .infinity; v[41] = -.infinity
        for i in stride(from: 0, to: v.count, by: 7) { v[i] = 0 }
        return v
    }()
    static let operandB: [Float] = {
        var r = SeededValues(seed: 12)
        var v = r.array(1 << 20, -3, 3)
        v[17] = .nan; v[3] = 0; v[1] = 2
        return v
    }()

    func testBinaryEveryOpEveryPatternMatchesReference() {
        let a = AlignedBuffer(Self.operandA), b = AlignedBuffer(Self.operandB)
        for c in Self.cases {
            let n = c.count
            let y = AlignedBuffer(count: n), r = AlignedBuffer(count: n)
            for raw in 0..<Int(GG_BINARY_COUNT.rawValue) {
                let op = gg_binary_op(rawValue: numericCast(raw))
                let ref = TestContext(threads: 1)
                XCTAssertEqual(gg_binary_f32_ref(&ref.ctx, r.pointer, a.pointer, c.a, b.pointer, c.b, c.shape,
                                                 Int32(c.shape.count), op), GG_OK)
                let expect = r.array
                for isa in Self.isas {
                    for threads: Int32 in [1, 2, 3] where threads == 2 || isa == 2 {
                        let tc = TestContext(threads: threads, isa: isa)
                        XCTAssertEqual(gg_binary_f32(&tc.ctx, y.pointer, a.pointer, c.a, b.pointer, c.b, c.shape,
                                                     Int32(c.shape.count), op), GG_OK)
                        assertBitIdentical(y.array, expect, "\(c.name) op \(raw) isa \(isa) threads \(threads)")
                    }
                }
            }
        }
    }

    func testBinaryNaNPropagationAndComparisons() {
        let tc = TestContext(threads: 1)
        func bin(_ op: gg_binary_op, _ x: Float, _ z: Float) -> Float {
            var a = x, b = z, y: Float = 0
            XCTAssertEqual(gg_binary_f32(&tc.ctx, &y, &a, nil, &b, nil, nil, 0, op), GG_OK)
            return y
        }
        XCTAssertTrue(bin(GG_BINARY_MAX, .nan, 1).isNaN)
        XCTAssertTrue(bin(GG_BINARY_MAX, 1, .nan).isNaN)
        XCTAssertTrue(bin(GG_BINARY_MIN, .nan, 1).isNaN)
        XCTAssertTrue(bin(GG_BINARY_MIN, 1, .nan).isNaN)
        XCTAssertEqual(bin(GG_BINARY_MAX, 2, 1), 2)
        XCTAssertEqual(bin(GG_BINARY_MIN, 2, 1), 1)
        XCTAssertEqual(bin(GG_BINARY_LT, 1, 2), 1)
        XCTAssertEqual(bin(GG_BINARY_GE, 1, 2), 0)
        XCTAssertEqual(bin(GG_BINARY_NE, .nan, .nan), 1)
        XCTAssertEqual(bin(GG_BINARY_EQ, .nan, .nan), 0)
        XCTAssertEqual(bin(GG_BINARY_POW, 2, 10), 1024)
    }

    func testBinaryInPlace() {
        let n = 100_003
        var rng = SeededValues(seed: 5)
        let av = rng.array(n), bv = rng.array(n)
        let shape: [Int64] = [Int64(n)], one: [Int64] = [1]
        for op in [GG_BINARY_ADD, GG_BINARY_MUL, GG_BINARY_DIV, GG_BINARY_MAX] {
            let r = AlignedBuffer(count: n), a = AlignedBuffer(av), b = AlignedBuffer(bv)
            let tc = TestContext(threads: 2)
            XCTAssertEqual(gg_binary_f32_ref(&tc.ctx, r.pointer, a.pointer, one, b.pointer, one, shape, 1, op), GG_OK)
            XCTAssertEqual(gg_binary_f32(&tc.ctx, a.pointer, a.pointer, one, b.pointer, one, shape, 1, op), GG_OK)
            assertBitIdentical(a.array, r.array, "y == a op \(op.rawValue)")
            let a2 = AlignedBuffer(av)
            XCTAssertEqual(gg_binary_f32(&tc.ctx, b.pointer, a2.pointer, one, b.pointer, one, shape, 1, op), GG_OK)
            assertBitIdentical(b.array, r.array, "y == b op \(op.rawValue)")
        }
    }

    func testWhereMatchesReference() {
        let a = AlignedBuffer(Self.operandA), b = AlignedBuffer(Self.operandB)
        for c in Self.cases {
            let n = c.count
            let y = AlignedBuffer(count: n), r = AlignedBuffer(count: n)
            // condition: operand A read through a's strides (has zeros, NaN, infinities)
            let ref = TestContext(threads: 1)
            XCTAssertEqual(gg_where_f32_ref(&ref.ctx, r.pointer, a.pointer, c.a, b.pointer, c.b, a.pointer, c.b,
                                            c.shape, Int32(c.shape.count)), GG_OK)
            let condB = c.b
            let r2 = AlignedBuffer(count: n)
            XCTAssertEqual(gg_where_f32_ref(&ref.ctx, r2.pointer, b.pointer, condB, a.pointer, c.a, b.pointer, c.b,
                                            c.shape, Int32(c.shape.count)), GG_OK)
            for isa in Self.isas {
                for threads: Int32 in [1, 2, 3] where threads < 3 || isa == 2 {
                    let tc = TestContext(threads: threads, isa: isa)
                    XCTAssertEqual(gg_where_f32(&tc.ctx, y.pointer, a.pointer, c.a, b.pointer, c.b, a.pointer, c.b,
                                                c.shape, Int32(c.shape.count)), GG_OK)
                    assertBitIdentical(y.array, r.array, "where \(c.name) isa \(isa) threads \(threads)")
                    XCTAssertEqual(gg_where_f32(&tc.ctx, y.pointer, b.pointer, condB, a.pointer, c.a, b.pointer, c.b,
                                                c.shape, Int32(c.shape.count)), GG_OK)
                    assertBitIdentical(y.array, r2.array, "where(b) \(c.name) isa \(isa) threads \(threads)")
                }
            }
        }
    }

    func testCopyMaterialisesViews() {
        let x = AlignedBuffer(Self.operandA)
        // (shape, y strides, x strides, y size)
        let copies: [([Int64], [Int64], [Int64], Int)] = [
            ([], [], [], 1),
            ([0, 5], [5, 1], [5, 1], 0),
            ([1_000_003], [1], [1], 1_000_003),
            ([129, 7], [7, 1], [1, 129], 903),                     // transpose
            ([64, 3, 130], [390, 130, 1], [1, 64 * 130, 64], 64 * 3 * 130), // permute (2, 0, 1)
            ([129, 7], [7, 1], [0, 1], 903),                       // broadcast a row
            ([129, 7], [7, 1], [1, 0], 903),                       // broadcast a column
            ([50, 20], [20, 1], [40, 2], 1000),                    // strided slice
            ([50, 20], [45, 1], [20, 1], 50 * 45),                 // write into a concat part
            ([30, 40], [1, 30], [40, 1], 1200),                    // scatter: y transposed
            ([3, 4, 5, 6], [1, 3, 12, 60], [120, 30, 6, 1], 360),  // full reversal of dims
            ([2, 2, 2, 2, 2, 2, 2, 3], [192, 96, 48, 24, 12, 6, 1, 2], [1, 2, 4, 8, 16, 32, 64, 128], 384), // rank 8
            // nearest upsampling (each element repeated along the last axis): the repeated-row path
            ([5, 3, 7, 2, 9, 2], [756, 252, 36, 18, 2, 1], [189, 63, 9, 0, 1, 0], 3780),
            ([64, 16, 14, 2, 14, 2], [12544, 784, 56, 28, 2, 1], [3136, 196, 14, 0, 1, 0], 802_816),
            ([40, 25, 3], [75, 3, 1], [50, 2, 0], 3000),             // 3 repeats of a strided row
            ([40, 9], [9, 1], [1, 0], 360),                         // 9 repeats: past the path's limit
        ]
        for (shape, ys, xs, ysize) in copies {
            let r = AlignedBuffer(count: ysize, fill: -7), y = AlignedBuffer(count: ysize, fill: -7)
            let ref = TestContext(threads: 1)
            XCTAssertEqual(gg_copy_f32_ref(&ref.ctx, r.pointer, ys, x.pointer, xs, shape, Int32(shape.count)), GG_OK)
            for isa in Self.isas {
                for threads in threadCounts {
                    let tc = TestContext(threads: threads, isa: isa)
                    y.pointer.initialize(repeating: -7, count: max(ysize, 1))
                    XCTAssertEqual(gg_copy_f32(&tc.ctx, y.pointer, ys, x.pointer, xs, shape, Int32(shape.count)), GG_OK)
                    assertBitIdentical(y.array, r.array, "copy \(shape) isa \(isa) threads \(threads)")
                }
            }
        }
    }

    func testFillAndOneHot() {
        for n in Self.sizes {
            let y = AlignedBuffer(count: n)
            let tc = TestContext(threads: 2)
            XCTAssertEqual(gg_fill_f32(&tc.ctx, y.pointer, Int64(n), 2.5), GG_OK)
            XCTAssertTrue(y.array.allSatisfy { $0 == 2.5 }, "fill \(n)")
        }
        for (n, depth) in [(0, 3), (1, 1), (7, 5), (129, 10), (100_003, 3)] {
            let labels = AlignedBuffer((0..<n).map { Float(($0 * 7 + 3) % depth) })
            let y = AlignedBuffer(count: n * depth, fill: -1)
            for threads in threadCounts {
                let tc = TestContext(threads: threads)
                XCTAssertEqual(gg_one_hot_f32(&tc.ctx, y.pointer, labels.pointer, Int64(n), Int64(depth)), GG_OK)
                let out = y.array
                for i in 0..<n {
                    for j in 0..<depth where out[i * depth + j] != (j == (i * 7 + 3) % depth ? 1 : 0) {
                        XCTFail("one_hot n \(n) depth \(depth) row \(i) col \(j)")
                        return
                    }
                }
            }
        }
        let tc = TestContext(threads: 1)
        let y = AlignedBuffer(count: 12)
        for bad: Float in [3, -1, 1.5, .nan, .infinity, 1e10] {
            let labels = AlignedBuffer([0, 1, bad, 2])
            XCTAssertEqual(gg_one_hot_f32(&tc.ctx, y.pointer, labels.pointer, 4, 3), GG_ERR_ARG, "label \(bad)")
        }
    }
}
