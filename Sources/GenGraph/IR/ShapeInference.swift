/// Shape rules: every node's shape is inferred (or, for ops whose output size
/// is an attribute of the node, checked) when the node is built, so an
/// ill-shaped graph cannot exist.
extension Op {
    /// The output shape of this op applied to inputs of `shapes`. `declared`
    /// is required by ops whose output size is not implied by their inputs
    /// (leaves, random, reshape, broadcast, conv_transpose2d, conv2d_filter_grad).
    func inferShape(_ shapes: [Shape], declared: Shape?) throws -> Shape {
        func fail(_ message: String) -> GraphError { GraphError(op: name, message) }
        func expectInputs(_ n: Int) throws {
            if shapes.count != n { throw fail("expects \(n) inputs, got \(shapes.count)") }
        }
        func requireDeclared() throws -> Shape {
            guard let declared else { throw fail("needs an output shape") }
            if declared.dims.contains(where: { $0 < 0 }) { throw fail("negative dimension in \(declared)") }
            return declared
        }

        switch self {
        case .input, .parameter, .state, .constant, .constantData, .randomUniform, .randomNormal:
            try expectInputs(0)
            return try requireDeclared()
        case .convMask:
            try expectInputs(0)
            let s = try requireDeclared()
            if s.rank != 4 || s[2] % 2 == 0 || s[3] % 2 == 0 {
                throw fail("mask shape must be (oc, ic, kh, kw) with odd kh and kw, got \(s)")
            }
            return s

        case .unary, .leakyRelu, .clamp, .stopGradient:
            try expectInputs(1)
            if case .clamp(let lo, let hi) = self, !(lo <= hi) { throw fail("min \(lo) exceeds max \(hi)") }
            return shapes[0]
        case .binary:
            try expectInputs(2)
            if shapes[0] != shapes[1] { throw fail("shapes \(shapes[0]) and \(shapes[1]) differ") }
            return shapes[0]
        case .select:
            try expectInputs(3)
            if shapes[0] != shapes[1] || shapes[1] != shapes[2] {
                throw fail("condition \(shapes[0]), a \(shapes[1]) and b \(shapes[2]) differ")
            }
            return shapes[0]

        case .reduce(_, let axes):
            try expectInputs(1)
            var dims = shapes[0].dims
            if Set(axes).count != axes.count { throw fail("repeated axis in \(axes)") }
            for axis in axes {
                if axis < 0 || axis >= dims.count { throw fail("axis \(axis) out of range for \(shapes[0])") }
                dims[axis] = 1
            }
            return Shape(dims)

        case .reshape:
            try expectInputs(1)
            let s = try requireDeclared()
            if s.count != shapes[0].count { throw fail("cannot reshape \(shapes[0]) to \(s)") }
            return s
        case .permute(let perm):
            try expectInputs(1)
            if perm.sorted() != Array(0..<shapes[0].rank) {
                throw fail("\(perm) is not a permutation of the axes of \(shapes[0])")
            }
            return Shape(perm.map { shapes[0][$0] })
        case .broadcast:
            try expectInputs(1)
            let s = try requireDeclared()
            let x = shapes[0]
            if x.rank != s.rank || zip(x.dims, s.dims).contains(where: { $0 != $1 && $0 != 1 }) {
                throw fail("cannot broadcast \(x) to \(s)")
            }
            return s
        case .slice(let start, let end):
            try expectInputs(1)
            let x = shapes[0]
            if start.count != x.rank || end.count != x.rank {
                throw fail("bounds \(start)..<\(end) do not match the rank of \(x)")
            }
            for axis in 0..<x.rank where !(0 <= start[axis] && start[axis] <= end[axis] && end[axis] <= x[axis]) {
                throw fail("bounds \(start[axis])..<\(end[axis]) out of range on axis \(axis) of \(x)")
            }
            return Shape(zip(start, end).map { $1 - $0 })
        case .pad(let before, let after):
            try expectInputs(1)
            let x = shapes[0]
            if before.count != x.rank || after.count != x.rank || (before + after).contains(where: { $0 < 0 }) {
                throw fail("padding \(before), \(after) invalid for \(x)")
            }
            return Shape((0..<x.rank).map { before[$0] + x[$0] + after[$0] })
        case .concat(let axis):
            guard let first = shapes.first else { throw fail("needs at least one input") }
            if axis < 0 || axis >= first.rank { throw fail("axis \(axis) out of range for \(first)") }
            var dims = first.dims
            dims[axis] = 0
            for s in shapes {
                var other = s.dims
                if other.count == dims.count { other[axis] = 0 }
                if other != dims {
                    throw fail("shapes \(shapes.map(\.description).joined(separator: ", ")) differ off axis \(axis)")
                }
            }
            dims[axis] = shapes.reduce(0) { $0 + $1[axis] }
            return Shape(dims)
        case .allReduce:
            try expectInputs(1)
            return shapes[0]
        case .oneHot(let depth, _):
            try expectInputs(1)
            if shapes[0].rank != 1 || depth < 1 { throw fail("needs labels (n) and depth >= 1, got \(shapes[0]), \(depth)") }
            return [shapes[0][0], depth]

        case .matmul(let ta, let tb):
            try expectInputs(2)
            let a = shapes[0], b = shapes[1]
            if a.rank < 2 || a.rank != b.rank || a.dims.dropLast(2) != b.dims.dropLast(2) {
                throw fail("shapes \(a) and \(b) are not matrices with equal batch dims")
            }
            let (m, ka) = ta ? (a[a.rank - 1], a[a.rank - 2]) : (a[a.rank - 2], a[a.rank - 1])
            let (kb, n) = tb ? (b[b.rank - 1], b[b.rank - 2]) : (b[b.rank - 2], b[b.rank - 1])
            if ka != kb { throw fail("inner dimensions differ: \(a)\(ta ? "ᵀ" : "") x \(b)\(tb ? "ᵀ" : "")") }
            return Shape(Array(a.dims.dropLast(2)) + [m, n])
        case .conv2d(let c):
            try expectInputs(2)
            let x = shapes[0], w = shapes[1]
            if x.rank != 4 || w.rank != 4 || x[1] != w[1] {
                throw fail("needs x (n, c, h, w) and w (oc, c, kh, kw), got \(x) and \(w)")
            }
            let oh = try convOutput(x[2], w[2], c), ow = try convOutput(x[3], w[3], c)
            return [x[0], w[0], oh, ow]
        case .convTranspose2d(let c):
            try expectInputs(2)
            let x = shapes[0], w = shapes[1]
            let s = try requireDeclared()
            if x.rank != 4 || w.rank != 4 || x[1] != w[0] || s.rank != 4 || s[0] != x[0] || s[1] != w[1] {
                throw fail("needs x (n, ic, h, w), w (ic, oc, kh, kw) and output (n, oc, H, W), got \(x), \(w), \(s)")
            }
            if try convOutput(s[2], w[2], c) != x[2] || convOutput(s[3], w[3], c) != x[3] {
                throw fail("output \(s) is not a transposed-conv size of \(x) with kernel \(w[2])x\(w[3]), stride \(c.stride), padding \(c.padding)")
            }
            return s
        case .conv2dFilterGrad(let c):
            try expectInputs(2)
            let x = shapes[0], dy = shapes[1]
            let s = try requireDeclared()
            if x.rank != 4 || dy.rank != 4 || s.rank != 4 || x[0] != dy[0] || s[0] != dy[1] || s[1] != x[1] {
                throw fail("needs x (n, c, h, w), dy (n, oc, oh, ow), dw (oc, c, kh, kw), got \(x), \(dy), \(s)")
            }
            if try convOutput(x[2], s[2], c) != dy[2] || convOutput(x[3], s[3], c) != dy[3] {
                throw fail("dy \(dy) does not match x \(x) with kernel \(s[2])x\(s[3])")
            }
            return s
        case .maxPool2d(let p):
            try expectInputs(1)
            let x = shapes[0]
            if x.rank != 4 { throw fail("needs x (n, c, h, w), got \(x)") }
            return [x[0], x[1], try poolOutput(x[2], p), try poolOutput(x[3], p)]
        case .maxPool2dGrad(let p):
            try expectInputs(2)
            let x = shapes[0], dy = shapes[1]
            if x.rank != 4 { throw fail("needs x (n, c, h, w), got \(x)") }
            let pooled: Shape = [x[0], x[1], try poolOutput(x[2], p), try poolOutput(x[3], p)]
            if dy != pooled { throw fail("dy \(dy) does not match the pooled shape \(pooled) of \(x)") }
            return x
        }

        func convOutput(_ size: Int, _ kernel: Int, _ c: Conv2DAttributes) throws -> Int {
            // Attributes beyond any tensor's size are refused before the arithmetic could overflow.
            if c.stride < 1 || c.padding < 0 || kernel < 1 || c.stride > Shape.maxElements || c.padding > Shape.maxElements
                || size + 2 * c.padding < kernel {
                throw fail("kernel \(kernel), stride \(c.stride), padding \(c.padding) do not fit size \(size)")
            }
            return (size + 2 * c.padding - kernel) / c.stride + 1
        }
        func poolOutput(_ size: Int, _ p: Pool2DAttributes) throws -> Int {
            if p.stride < 1 || p.kernel < 1 || p.padding < 0 || p.kernel > Shape.maxElements || p.stride > Shape.maxElements
                || 2 * p.padding > p.kernel || size + 2 * p.padding < p.kernel {
                throw fail("window \(p.kernel), stride \(p.stride), padding \(p.padding) do not fit size \(size)")
            }
            return (size + 2 * p.padding - p.kernel) / p.stride + 1
        }
    }
}
