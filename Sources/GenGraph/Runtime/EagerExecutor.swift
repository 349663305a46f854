import Kernels

/// Eager execution: one kernel call per node, each result materialised (views
/// aside), in node order, freeing each intermediate after its last use. The
/// honest baseline the compiled plans are measured against: same kernels, no
/// needless copies (reshape, permute, broadcast and slice are views, and a
/// transposed view feeds GEMM through its transpose flag).
final class EagerExecutor {
    let graph: Graph
    private let kernels: KernelContext
    /// Every intermediate buffer allocated, by element count: a caching allocator.
    /// A buffer is free when only this table holds it (its last view is gone), so
    /// a steady state allocates nothing; freeing and re-allocating aligned blocks
    /// every step fragmented the C heap (the vae's RSS grew ~0.4 MB a step).
    private var buffers: [Int: [Buffer]] = [:]
    /// Constants and masks, built once per node.
    private var fixed: [Int: Buffer] = [:]
    private let statistics: ExecutionStatistics

    init(graph: Graph, kernels: KernelContext, statistics: ExecutionStatistics) {
        self.graph = graph
        self.kernels = kernels
        self.statistics = statistics
    }

    /// Computes `outputs`; `leaf` supplies inputs, parameters and state.
    /// `randomKey` derives the key of each random node from its stream.
    func run(_ outputs: [Int], leaf: (Node) throws -> View, randomKey: (Int) -> UInt64) throws -> [View] {
        let order = graph.neededNodes(for: outputs)
        var remainingUses = [Int](repeating: 0, count: graph.nodes.count)
        for id in order { for input in graph.nodes[id].inputs { remainingUses[input] += 1 } }
        for id in outputs { remainingUses[id] += 1 }

        var values = [View?](repeating: nil, count: graph.nodes.count)
        for id in order {
            let node = graph.nodes[id]
            let inputs = node.inputs.map { values[$0]! }
            let cost = NodeCost(node, graph.nodes)
            statistics.record(kernels: 0, flops: cost.flops, bytes: cost.bytesRead + cost.bytesWritten)
            do {
                values[id] = try statistics.timed(node.op.name, flops: cost.flops, bytes: cost.bytesRead + cost.bytesWritten) {
                    try evaluate(id, node, inputs, leaf: leaf, randomKey: randomKey)
                }
            } catch let error as GraphError {
                // What only a run finds (a label outside its classes) is located at the model's line.
                throw error.located(at: node.origin)
            }
            for input in node.inputs {
                remainingUses[input] -= 1
                if remainingUses[input] == 0 { values[input] = nil }
            }
        }
        return outputs.map { values[$0]! }
    }

    private func allocate(_ shape: Shape) throws -> View {
        let n = shape.count
        var sized = buffers[n, default: []]
        buffers[n] = nil  // so the table's own copy does not count as a second holder
        defer { buffers[n] = sized }
        for i in sized.indices.reversed() where isKnownUniquelyReferenced(&sized[i]) {
            return View(buffer: sized[i], shape: shape)
        }
        statistics.workingSetBytes += n * 4
        sized.append(try Buffer.allocate(count: n, for: "a value of shape \(shape)"))
        return View(buffer: sized[sized.count - 1], shape: shape)
    }

    private func launch(_ op: String, _ body: () -> gg_status) throws {
        statistics.kernels += 1
        try check(body(), op)
    }

    /// `v` itself when contiguous, else a contiguous copy.
    func contiguous(_ v: View) throws -> View {
        if v.isContiguous { return v }
        let out = try allocate(v.shape)
        let yStrides = out.strides.map(Int64.init), xStrides = v.strides.map(Int64.init), dims = v.shape.dims.map(Int64.init)
        var ctx = kernels.ctx()
        try launch("copy") { gg_copy_f32(&ctx, out.pointer, yStrides, v.pointer, xStrides, dims, Int32(v.shape.rank)) }
        return out
    }

    private func evaluate(_ id: Int, _ node: Node, _ x: [View], leaf: (Node) throws -> View, randomKey: (Int) -> UInt64) throws -> View {
        let name = node.op.name
        var ctx = kernels.ctx()
        let dims = node.shape.dims.map(Int64.init)
        let rank = Int32(node.shape.rank)

        switch node.op {
        case .input, .parameter, .state:
            return try leaf(node)
        case .constant(let value):
            let one = fixed[id] ?? Buffer(count: 1)
            one.pointer[0] = value
            fixed[id] = one
            return View(buffer: one, shape: node.shape, strides: [Int](repeating: 0, count: node.shape.rank))
        case .convMask(let kind):
            let mask = fixed[id] ?? Buffer(copying: convMaskValues(kind, node.shape))
            fixed[id] = mask
            return View(buffer: mask, shape: node.shape)
        case .constantData(let data):
            let values = fixed[id] ?? Buffer(copying: data.values)
            fixed[id] = values
            return View(buffer: values, shape: node.shape)
        case .randomUniform(let stream), .randomNormal(let stream):
            let out = try allocate(node.shape)
            let key = randomKey(stream), offset = Distributed.randomOffset(count: node.shape.count)
            if case .randomUniform = node.op {
                try launch(name) { gg_rand_uniform_f32(&ctx, out.pointer, Int64(node.shape.count), key, offset) }
            } else {
                try launch(name) { gg_rand_normal_f32(&ctx, out.pointer, Int64(node.shape.count), key, offset) }
            }
            return out

        case .unary(let f):
            return try unary(name, x[0], KernelCodes.unary[f]!, 0, 0)
        case .leakyRelu(let slope):
            return try unary(name, x[0], GG_UNARY_LEAKY_RELU, slope, 0)
        case .clamp(let lo, let hi):
            return try unary(name, x[0], GG_UNARY_CLAMP, lo, hi)
        case .binary(let f):
            let out = try allocate(node.shape)
            let a = x[0].strides.map(Int64.init), b = x[1].strides.map(Int64.init)
            try launch(name) { gg_binary_f32(&ctx, out.pointer, x[0].pointer, a, x[1].pointer, b, dims, rank, KernelCodes.binary[f]!) }
            return out
        case .select:
            let out = try allocate(node.shape)
            let c = x[0].strides.map(Int64.init), a = x[1].strides.map(Int64.init), b = x[2].strides.map(Int64.init)
            try launch(name) { gg_where_f32(&ctx, out.pointer, x[0].pointer, c, x[1].pointer, a, x[2].pointer, b, dims, rank) }
            return out
        case .stopGradient:
            return x[0]

        case .reduce(let f, let axes):
            return try reduce(x[0], f, axes)

        case .reshape:
            let source = try contiguous(x[0])
            return View(buffer: source.buffer, offset: source.offset, shape: node.shape)
        case .permute(let perm):
            return View(buffer: x[0].buffer, offset: x[0].offset, shape: node.shape, strides: perm.map { x[0].strides[$0] })
        case .broadcast:
            let strides = x[0].shape.dims.indices.map { x[0].shape[$0] == node.shape[$0] ? x[0].strides[$0] : 0 }
            return View(buffer: x[0].buffer, offset: x[0].offset, shape: node.shape, strides: strides)
        case .slice(let start, _):
            let offset = x[0].offset + zip(start, x[0].strides).reduce(0) { $0 + $1.0 * $1.1 }
            return View(buffer: x[0].buffer, offset: offset, shape: node.shape, strides: x[0].strides)
        case .pad(let before, _):
            let out = try allocate(node.shape)
            try launch("fill") { gg_fill_f32(&ctx, out.pointer, Int64(node.shape.count), 0) }
            let start = zip(before, out.strides).reduce(0) { $0 + $1.0 * $1.1 }
            try copy(x[0], into: out, at: start)
            return out
        case .concat(let axis):
            let out = try allocate(node.shape)
            var offset = 0
            for part in x {
                try copy(part, into: out, at: offset * out.strides[axis])
                offset += part.shape[axis]
            }
            return out
        case .allReduce:
            let input = try contiguous(x[0])
            let out = try allocate(node.shape)
            out.pointer.update(from: input.pointer, count: node.shape.count)
            statistics.kernels += 1
            try Distributed.allReduceSum(out.pointer, count: node.shape.count)
            return out
        case .oneHot(let depth, let outOfRange):
            let labels = try contiguous(x[0])
            let out = try allocate(node.shape)
            statistics.kernels += 1
            if gg_one_hot_f32(&ctx, out.pointer, labels.pointer, Int64(labels.shape.count), Int64(depth)) != GG_OK {
                throw outOfRange ?? GraphError(op: name, "a label is not an integer in [0, \(depth))")
            }
            return out

        case .matmul(let ta, let tb):
            return try matmul(node, x[0], ta, x[1], tb)
        case .conv2d(let c):
            let (input, weight) = (try contiguous(x[0]), try contiguous(x[1]))
            var s = convShape(input.shape, weight.shape, node.shape, c)
            let out = try allocate(node.shape)
            ctx = kernels.ctx(scratch: gg_conv2d_f32_scratch(&ctx, &s))
            try launch(name) { gg_conv2d_f32(&ctx, out.pointer, input.pointer, weight.pointer, &s) }
            return out
        case .convTranspose2d(let c):
            // The adjoint of the conv whose input has the output's shape.
            let (input, weight) = (try contiguous(x[0]), try contiguous(x[1]))
            var s = convShape(node.shape, weight.shape, input.shape, c)
            let out = try allocate(node.shape)
            ctx = kernels.ctx(scratch: gg_conv2d_f32_scratch(&ctx, &s))
            try launch(name) { gg_conv2d_bwd_data_f32(&ctx, out.pointer, input.pointer, weight.pointer, &s) }
            return out
        case .conv2dFilterGrad(let c):
            let (input, dy) = (try contiguous(x[0]), try contiguous(x[1]))
            var s = convShape(input.shape, node.shape, dy.shape, c)
            let out = try allocate(node.shape)
            ctx = kernels.ctx(scratch: gg_conv2d_f32_scratch(&ctx, &s))
            try launch(name) { gg_conv2d_bwd_filter_f32(&ctx, out.pointer, input.pointer, dy.pointer, &s) }
            return out
        case .maxPool2d(let p):
            let input = try contiguous(x[0])
            var s = poolShape(input.shape, node.shape, p)
            let out = try allocate(node.shape)
            try launch(name) { gg_maxpool2d_f32(&ctx, out.pointer, input.pointer, &s) }
            return out
        case .maxPool2dGrad(let p):
            let (input, dy) = (try contiguous(x[0]), try contiguous(x[1]))
            var s = poolShape(input.shape, dy.shape, p)
            let out = try allocate(node.shape)
            try launch(name) { gg_maxpool2d_bwd_f32(&ctx, out.pointer, input.pointer, dy.pointer, &s) }
            return out
        }
    }

    private func unary(_ name: String, _ x: View, _ code: gg_unary_op, _ p0: Float, _ p1: Float) throws -> View {
        let input = try contiguous(x)
        let out = try allocate(x.shape)
        var ctx = kernels.ctx()
        try launch(name) { gg_unary_f32(&ctx, out.pointer, input.pointer, Int64(x.shape.count), code, p0, p1) }
        return out
    }

    /// Writes `part` into the region of `out` starting at element `start`, with `out`'s strides.
    private func copy(_ part: View, into out: View, at start: Int) throws {
        var ctx = kernels.ctx()
        let yStrides = out.strides.map(Int64.init), xStrides = part.strides.map(Int64.init)
        let dims = part.shape.dims.map(Int64.init)
        try launch("copy") { gg_copy_f32(&ctx, out.pointer + start, yStrides, part.pointer, xStrides, dims, Int32(part.shape.rank)) }
    }

    /// Reduces each run of adjacent axes as one (outer, n, inner) kernel call, last run first.
    private func reduce(_ x: View, _ f: ReduceFunction, _ axes: [Int]) throws -> View {
        var current = try contiguous(x)
        var runs: [Range<Int>] = []
        for axis in axes.sorted() {
            if let last = runs.last, last.upperBound == axis { runs[runs.count - 1] = last.lowerBound..<(axis + 1) }
            else { runs.append(axis..<(axis + 1)) }
        }
        if runs.isEmpty {  // reducing no axes copies, so the result never aliases its input
            let out = try allocate(x.shape)
            try copy(current, into: out, at: 0)
            return out
        }
        for run in runs.reversed() {
            let d = current.shape.dims
            let outer = d[..<run.lowerBound].reduce(1, *), n = d[run].reduce(1, *), inner = d[run.upperBound...].reduce(1, *)
            var outDims = d
            for axis in run { outDims[axis] = 1 }
            let out = try allocate(Shape(outDims))
            var ctx = kernels.ctx()
            let code = KernelCodes.reduce(f)
            let source = current
            try launch("reduce_" + f.rawValue) { gg_reduce_f32(&ctx, out.pointer, source.pointer, Int64(outer), Int64(n), Int64(inner), code) }
            current = out
        }
        return current
    }

    private func matmul(_ node: Node, _ a0: View, _ ta: Bool, _ b0: View, _ tb: Bool) throws -> View {
        let a = a0.layout.matrix == nil ? try contiguous(a0) : a0
        let b = b0.layout.matrix == nil ? try contiguous(b0) : b0
        let (lda, aT, strideA) = a.layout.matrix!
        let (ldb, bT, strideB) = b.layout.matrix!
        let r = node.shape.rank
        let m = node.shape[r - 2], n = node.shape[r - 1]
        let k = ta ? a.shape[r - 2] : a.shape[r - 1]
        let batch = node.shape.dims.dropLast(2).reduce(1, *)
        let out = try allocate(node.shape)
        var ctx = kernels.ctx()
        ctx = kernels.ctx(scratch: gg_gemm_f32_scratch(&ctx, Int64(m), Int64(n), Int64(k)))
        let transA: Int32 = (ta != aT) ? 1 : 0, transB: Int32 = (tb != bT) ? 1 : 0
        try launch("matmul") {
            gg_gemm_batched_f32(&ctx, out.pointer, Int64(n), Int64(m * n),
                                a.pointer, Int64(lda), Int64(strideA), transA,
                                b.pointer, Int64(ldb), Int64(strideB), transB,
                                Int64(batch), Int64(m), Int64(n), Int64(k), 1, 0)
        }
        return out
    }

    private func convShape(_ x: Shape, _ w: Shape, _ y: Shape, _ c: Conv2DAttributes) -> gg_conv2d_shape {
        gg_conv2d_shape(n: Int64(x[0]), c: Int64(x[1]), h: Int64(x[2]), w: Int64(x[3]),
                        oc: Int64(w[0]), kh: Int64(w[2]), kw: Int64(w[3]),
                        stride: Int64(c.stride), pad: Int64(c.padding), oh: Int64(y[2]), ow: Int64(y[3]))
    }

    private func poolShape(_ x: Shape, _ y: Shape, _ p: Pool2DAttributes) -> gg_pool2d_shape {
        gg_pool2d_shape(n: Int64(x[0]), c: Int64(x[1]), h: Int64(x[2]), w: Int64(x[3]),
                        k: Int64(p.kernel), stride: Int64(p.stride), pad: Int64(p.padding),
                        oh: Int64(y[2]), ow: Int64(y[3]))
    }
}
