/// Reverse-mode differentiation as a graph-to-graph transform: gradients are
/// new nodes of the same graph, so they are scheduled and compiled like the
/// forward pass, and can be differentiated again (WGAN-GP's penalty).
extension Graph {
    /// The gradients of `output` with respect to each of `targets`. A
    /// non-scalar output is differentiated as the sum of its elements. A target
    /// that `output` does not depend on gets zeros.
    ///
    ///     let (dw, db) = try g.gradients(of: loss, withRespectTo: [w, b]).pair
    public func gradients(of output: Tensor, withRespectTo targets: [Tensor]) throws -> [Tensor] {
        for t in targets + [output] where t.graph !== self {
            throw GraphError(op: "gradients", "tensor %\(t.id) belongs to another graph")
        }
        // Only nodes on a path from a target to the output carry cotangents.
        let count = output.id + 1
        var fromTarget = [Bool](repeating: false, count: count)
        for t in targets where t.id < count { fromTarget[t.id] = true }
        for id in 0..<count where !fromTarget[id] {
            if case .stopGradient = nodes[id].op { continue }
            fromTarget[id] = nodes[id].inputs.contains { fromTarget[$0] }
        }
        let needed = Set(neededNodes(for: [output.id]))

        var cotangents: [Int: [Tensor]] = [output.id: [try constant(1, output.shape)]]
        var total: [Int: Tensor] = [:]
        // Gradient nodes point at the source line of the node they differentiate (dumps, `dump --format html`).
        let caller = currentOrigin
        defer { currentOrigin = caller }
        for id in stride(from: output.id, through: 0, by: -1) where needed.contains(id) && fromTarget[id] {
            guard let parts = cotangents.removeValue(forKey: id) else { continue }
            currentOrigin = nodes[id].origin ?? caller
            let g = try parts.dropFirst().reduce(parts[0]) { try $0 + $1 }
            total[id] = g
            let node = nodes[id]
            let wanted = node.inputs.map { fromTarget[$0] }
            if !wanted.contains(true) { continue }
            let local = try vectorJacobian(id, g, wanted: wanted)
            for (input, contribution) in zip(node.inputs, local) {
                if let contribution { cotangents[input, default: []].append(contribution) }
            }
        }
        currentOrigin = caller
        return try targets.map { t in try total[t.id] ?? constant(0, t.shape) }
    }

    /// The cotangents of node `id`'s inputs given its output cotangent `g`;
    /// nil where an input gets no gradient (or `wanted` says it is not needed).
    private func vectorJacobian(_ id: Int, _ g: Tensor, wanted: [Bool]) throws -> [Tensor?] {
        let node = nodes[id]
        let x = node.inputs.map(tensor)
        let y = tensor(id)
        func zeros(_ s: Shape) throws -> Tensor { try constant(0, s) }

        switch node.op {
        case .input, .parameter, .state, .constant, .convMask, .constantData, .randomUniform, .randomNormal:
            return []
        case .stopGradient, .oneHot:
            return [nil]
        case .allReduce:
            // Every rank's loss reads the sum, so each input's cotangent is the sum of the ranks' cotangents.
            return [try add(.allReduce, [g])]

        case .unary(let f):
            let a = x[0]
            switch f {
            case .neg: return [try g.neg()]
            case .abs: return [try g * a.sign()]
            case .sign, .floor: return [nil]
            case .exp: return [try g * y]
            case .log: return [try g / a]
            case .log1p: return [try g / (a + 1)]
            case .sqrt: return [try g / (y * 2)]
            case .rsqrt: return [try g * y / a * -0.5]
            case .square: return [try g * a * 2]
            case .tanh: return [try g * (1 - y.square())]
            case .sigmoid: return [try g * y * (1 - y)]
            // From the output: y > 0 exactly when a > 0, and y is kept for the next layer anyway,
            // so the input need not be stored for the backward pass.
            case .relu: return [try g * y.greater(0)]
            case .softplus: return [try g * a.sigmoid()]
            case .silu:
                // d/dx x s(x) = s + x s (1 - s) = s + y (1 - s).
                let s = try a.sigmoid()
                return [try g * (s + y * (1 - s))]
            case .sin: return [try g * a.cos()]
            case .cos: return [try (g * a.sin()).neg()]
            }
        case .leakyRelu(let slope):
            // With a non-negative slope y > 0 exactly when x > 0: test the output, which is kept anyway.
            return [try select((slope >= 0 ? y : x[0]).greater(0), g, g * slope)]
        case .clamp(let lo, let hi):
            let inside = try x[0].greaterEqual(constant(lo)) * x[0].lessEqual(constant(hi))
            return [try g * inside]

        case .binary(let f):
            let a = x[0], b = x[1]
            switch f {
            case .add: return [g, g]
            case .sub: return [g, wanted[1] ? try g.neg() : nil]
            case .mul: return [wanted[0] ? try g * b : nil, wanted[1] ? try g * a : nil]
            case .div: return [wanted[0] ? try g / b : nil, wanted[1] ? try (g * y / b).neg() : nil]
            case .pow:
                return [wanted[0] ? try g * b * a.pow(b - 1) : nil,
                        wanted[1] ? try g * y * a.log() : nil]
            case .maximum, .minimum:
                let firstWins = try f == .maximum ? a.greaterEqual(b) : a.lessEqual(b)
                let zero = try zeros(g.shape)
                return [wanted[0] ? try select(firstWins, g, zero) : nil,
                        wanted[1] ? try select(firstWins, zero, g) : nil]
            case .less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual:
                return [nil, nil]
            }
        case .select:
            let zero = try zeros(g.shape)
            return [nil, wanted[1] ? try select(x[0], g, zero) : nil, wanted[2] ? try select(x[0], zero, g) : nil]

        case .reduce(.sum, _):
            return [try g.expand(to: x[0].shape)]
        case .reduce(.max, let axes):
            // Ties share the gradient equally, so the rule is symmetric and smooth enough to differentiate again.
            let mask = try x[0].equal(y.expand(to: x[0].shape))
            let ties = try mask.sum(axes: axes, keepDims: true)
            return [try mask * (g / ties).expand(to: x[0].shape)]

        case .reshape:
            return [try g.reshape(x[0].shape)]
        case .permute(let perm):
            var inverse = perm
            for (i, p) in perm.enumerated() { inverse[p] = i }
            return [try g.permute(inverse)]
        case .broadcast:
            let stretched = x[0].shape.dims.indices.filter { x[0].shape[$0] == 1 && node.shape[$0] != 1 }
            return [try g.sum(axes: stretched, keepDims: true)]
        case .slice(let start, let end):
            let after = zip(x[0].shape.dims, end).map { $0 - $1 }
            return [try add(.pad(before: start, after: after), [g])]
        case .pad(let before, _):
            return [try g.slice(start: before, end: zip(before, x[0].shape.dims).map { $0 + $1 })]
        case .concat(let axis):
            var offset = 0
            return try x.enumerated().map { i, part in
                defer { offset += part.shape[axis] }
                return wanted[i] ? try g.slice(axis: axis, offset..<(offset + part.shape[axis])) : nil
            }

        case .matmul(let ta, let tb):
            let a = x[0], b = x[1]
            let da: Tensor? = !wanted[0] ? nil : ta
                ? try add(.matmul(transposeA: tb, transposeB: true), [b, g])
                : try add(.matmul(transposeA: false, transposeB: !tb), [g, b])
            let db: Tensor? = !wanted[1] ? nil : tb
                ? try add(.matmul(transposeA: true, transposeB: ta), [g, a])
                : try add(.matmul(transposeA: !ta, transposeB: false), [a, g])
            return [da, db]
        case .conv2d(let c):
            return [wanted[0] ? try add(.convTranspose2d(c), [g, x[1]], shape: x[0].shape) : nil,
                    wanted[1] ? try add(.conv2dFilterGrad(c), [x[0], g], shape: x[1].shape) : nil]
        case .convTranspose2d(let c):
            return [wanted[0] ? try add(.conv2d(c), [g, x[1]]) : nil,
                    wanted[1] ? try add(.conv2dFilterGrad(c), [g, x[0]], shape: x[1].shape) : nil]
        case .conv2dFilterGrad(let c):
            return [wanted[0] ? try add(.convTranspose2d(c), [x[1], g], shape: x[0].shape) : nil,
                    wanted[1] ? try add(.conv2d(c), [x[0], g]) : nil]
        case .maxPool2d(let p):
            return [try add(.maxPool2dGrad(p), [x[0], g])]
        case .maxPool2dGrad:
            throw GraphError(op: node.op.name, "second derivatives through max_pool2d are not supported")
        }
    }
}
