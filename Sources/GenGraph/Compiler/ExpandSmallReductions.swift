/// A sum over a few elements along the innermost axis (at most
/// `smallReductionLimit` in all, e.g. the 2x2 blocks that nearest upsampling's
/// gradient adds up) becomes adds of strided slices. The reduction kernel works
/// row by row along the innermost axis, so rows of 2 cost it a row's overhead
/// per 2 elements; the slices' adds are one elementwise kernel over the output,
/// which also fuses with what reads the sum. The adds pair slices in a tree,
/// in the row-major order of the reduced indices.
public func expandSmallReductions(_ program: Program) -> Program {
    var b = ProgramBuilder()
    var map = [Int](repeating: -1, count: program.nodes.count)
    for (id, node) in program.nodes.enumerated() {
        let x = node.inputs.map { map[$0] }
        guard case .reduce(.sum, let axes) = node.op, let source = x.first else {
            map[id] = b.add(node.op, x, node.shape, origin: node.origin)
            continue
        }
        let dims = b.shape(source).dims
        let reduced = axes.map { dims[$0] }.reduce(1, *)
        guard let last = dims.indices.last, axes.contains(last), reduced > 1, reduced <= smallReductionLimit,
              node.shape.rank == dims.count else {
            map[id] = b.add(node.op, x, node.shape, origin: node.origin)
            continue
        }
        var terms: [Int] = []
        for flat in 0..<reduced {
            var start = [Int](repeating: 0, count: dims.count), rest = flat
            for axis in axes.sorted().reversed() {
                start[axis] = rest % dims[axis]
                rest /= dims[axis]
            }
            let end = dims.indices.map { axes.contains($0) ? start[$0] + 1 : dims[$0] }
            terms.append(b.add(.slice(start: start, end: end), [source], node.shape, origin: node.origin))
        }
        while terms.count > 1 {
            var next: [Int] = []
            for i in stride(from: 0, to: terms.count, by: 2) {
                next.append(i + 1 < terms.count
                    ? b.add(.binary(.add), [terms[i], terms[i + 1]], node.shape, origin: node.origin)
                    : terms[i])
            }
            terms = next
        }
        map[id] = terms[0]
    }
    return Program(nodes: b.nodes, outputs: program.outputs.map { map[$0] })
}

/// The most elements a sum may add up to be expanded into slices.
let smallReductionLimit = 4
