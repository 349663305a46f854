/// Reductions and movement: reshape, permute, slice, concat, one-hot.
extension Tensor {
    func normalizedAxes(_ axes: [Int]?, op: String) throws -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let normalized = axes.map { $0 < 0 ? $0 + rank : $0 }
        for (given, axis) in zip(axes, normalized) where axis < 0 || axis >= rank {
            throw GraphError(op: op, "axis \(given) out of range for \(shape)")
        }
        if Set(normalized).count != normalized.count { throw GraphError(op: op, "repeated axis in \(axes)") }
        return normalized.sorted()
    }

    private func reduce(_ f: ReduceFunction, _ axes: [Int]?, keepDims: Bool) throws -> Tensor {
        let op = "reduce_" + f.rawValue
        let axes = try normalizedAxes(axes, op: op)
        let kept = try graph.add(.reduce(f, axes: axes), [self])
        if keepDims { return kept }
        return try kept.reshape(Shape(shape.dims.enumerated().filter { !axes.contains($0.offset) }.map(\.element)))
    }

    /// Sum over `axes` (all when nil); negative axes count from the end.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        try reduce(.sum, axes, keepDims: keepDims)
    }

    public func max(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        try reduce(.max, axes, keepDims: keepDims)
    }

    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let axes = try normalizedAxes(axes, op: "mean")
        let n = axes.reduce(1) { $0 * shape[$1] }
        return try sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Biased variance (divides by n), as batch norm uses.
    public func variance(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let centred = try self - mean(axes: axes, keepDims: true)
        return try centred.square().mean(axes: axes, keepDims: keepDims)
    }

    /// log(sum(exp(x))) computed stably by shifting by the (constant) maximum.
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let m = try max(axes: axes, keepDims: true).stopGradient()
        let shifted = try (self - m).exp().sum(axes: axes, keepDims: true).log() + m
        if keepDims { return shifted }
        let axes = try normalizedAxes(axes, op: "logsumexp")
        return try shifted.reshape(Shape(shape.dims.enumerated().filter { !axes.contains($0.offset) }.map(\.element)))
    }

    /// exp(x) / sum(exp(x)) over `axes`, computed from x - max (softmax does not change
    /// when its input is shifted, so the maximum carries no gradient).
    public func softmax(axes: [Int] = [-1]) throws -> Tensor {
        let axes = try normalizedAxes(axes, op: "softmax")
        let e = try (self - max(axes: axes, keepDims: true).stopGradient()).exp()
        return try e / e.sum(axes: axes, keepDims: true)
    }

    /// Nearest-neighbour upsampling of NCHW by an integer `factor`: each pixel becomes a
    /// factor x factor block (PyTorch's interpolate, mode "nearest"). A reshape, a broadcast
    /// and a reshape, so its gradient is the sum over each block.
    public func upsampled(by factor: Int) throws -> Tensor {
        guard rank == 4 else { throw GraphError(op: "upsample", "needs (n, c, h, w), got \(shape)") }
        guard factor >= 1, factor <= Shape.maxElements else {
            throw GraphError(op: "upsample", "factor \(factor) must be in 1...\(Shape.maxElements)")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let blocks = Shape([n, c, h, factor, w, factor])
        // Counted (overflow-checked) before h * factor is formed.
        _ = try blocks.checkedCount(op: "upsample")
        return try reshape([n, c, h, 1, w, 1]).expand(to: blocks).reshape([n, c, h * factor, w * factor])
    }

    /// Same elements in a new shape; one dimension may be -1 (inferred).
    public func reshape(_ target: Shape) throws -> Tensor {
        var dims = target.dims
        if let hole = dims.firstIndex(of: -1) {
            // Checked before -1 is set aside, so the error names the shape as the caller wrote it.
            if dims.filter({ $0 == -1 }).count > 1 {
                throw GraphError(op: "reshape", "only one dimension may be -1, got \(target)")
            }
            if dims.contains(where: { $0 < -1 }) { throw GraphError(op: "reshape", "negative dimension in \(target)") }
            var rest = dims
            rest.remove(at: hole)
            // The other dims must form a valid shape before their product means anything.
            let known = try Shape(rest).checkedCount(op: "reshape")
            if known == 0 || shape.count % known != 0 {
                throw GraphError(op: "reshape", "cannot reshape \(shape) to \(target)")
            }
            dims[hole] = shape.count / known
        }
        if Shape(dims) == shape { return self }
        return try graph.add(.reshape, [self], shape: Shape(dims))
    }

    /// Flattens all axes after the first: (n, ...) -> (n, rest).
    public func flatten() throws -> Tensor { try reshape([shape.rank == 0 ? 1 : shape[0], -1]) }

    public func permute(_ perm: [Int]) throws -> Tensor {
        if perm == Array(0..<rank) { return self }
        return try graph.add(.permute(perm), [self])
    }

    /// Swaps the last two axes.
    public func transposed() throws -> Tensor {
        if rank < 2 { throw GraphError(op: "transpose", "needs rank >= 2, got \(shape)") }
        var perm = Array(0..<rank)
        perm.swapAt(rank - 1, rank - 2)
        return try permute(perm)
    }

    public func slice(start: [Int], end: [Int]) throws -> Tensor {
        if start == Array(repeating: 0, count: rank) && end == shape.dims { return self }
        return try graph.add(.slice(start: start, end: end), [self])
    }

    /// Elements [lo, hi) along one axis.
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let axis = try normalizedAxes([axis], op: "slice")[0]
        var start = [Int](repeating: 0, count: rank), end = shape.dims
        start[axis] = range.lowerBound
        end[axis] = range.upperBound
        return try slice(start: start, end: end)
    }

    /// One-hot rows (n, depth) of integer-valued labels (n); a run that meets a value outside
    /// [0, depth) fails with `outOfRange` (what the values are to the caller), else as a label.
    public func oneHot(depth: Int, outOfRange: GraphError? = nil) throws -> Tensor {
        try graph.add(.oneHot(depth: depth, outOfRange: outOfRange), [self])
    }
}

/// Joins tensors along `axis`; the other dimensions must agree.
public func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
    guard let first = tensors.first else { throw GraphError(op: "concat", "needs at least one input") }
    if tensors.count == 1 { return first }
    let a = try first.normalizedAxes([axis], op: "concat")[0]
    return try first.graph.add(.concat(axis: a), tensors)
}
