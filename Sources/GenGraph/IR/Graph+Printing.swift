/// The graph's one text form: SSA, one line per node, `%id = op[attributes](inputs) : f32[shape]`.
/// Deterministic (no addresses, no hash order), so dumps and tests can compare it.
extension Op {
    /// Attributes in the text form, without brackets; empty when the op has none.
    public var attributeText: String {
        func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: ",") }
        func quoted(_ s: String) -> String { "\"" + s + "\"" }
        switch self {
        case .input(let n), .parameter(let n), .state(let n): return quoted(n)
        case .constant(let v): return "\(v)"
        case .convMask(let m): return m.rawValue
        case .constantData(let d): return quoted(d.name) + ",fnv=" + String(d.fingerprint, radix: 16)
        case .randomUniform(let s), .randomNormal(let s): return "stream=\(s)"
        case .leakyRelu(let slope): return "slope=\(slope)"
        case .clamp(let lo, let hi): return "min=\(lo),max=\(hi)"
        case .reduce(_, let axes): return "axes=" + list(axes)
        case .permute(let p): return list(p)
        case .slice(let start, let end): return "start=\(list(start));end=\(list(end))"
        case .pad(let before, let after): return "before=\(list(before));after=\(list(after))"
        case .concat(let axis): return "axis=\(axis)"
        case .oneHot(let depth, _): return "depth=\(depth)"
        case .matmul(let ta, let tb):
            return [ta ? "ta" : nil, tb ? "tb" : nil].compactMap { $0 }.joined(separator: ",")
        case .conv2d(let c), .convTranspose2d(let c), .conv2dFilterGrad(let c):
            return "stride=\(c.stride),pad=\(c.padding)"
        case .maxPool2d(let p), .maxPool2dGrad(let p):
            return "k=\(p.kernel),stride=\(p.stride),pad=\(p.padding)"
        case .unary, .binary, .select, .stopGradient, .reshape, .broadcast, .allReduce: return ""
        }
    }
}

extension Node {
    /// The text line of this node as `%id`.
    public func line(_ id: Int) -> String {
        let node = self
        let attributes = node.op.attributeText
        var text = "%\(id) = \(node.op.name)"
        if !attributes.isEmpty { text += "[\(attributes)]" }
        if !node.inputs.isEmpty { text += "(" + node.inputs.map { "%\($0)" }.joined(separator: ", ") + ")" }
        return text + " : f32\(node.shape)"
    }
}

extension Graph {
    /// The text line of one node.
    public func line(_ id: Int) -> String { nodes[id].line(id) }

    /// The whole graph (or the nodes `outputs` need) in the text form.
    public func text(name: String = "main", outputs: [Tensor] = []) -> String {
        let ids = outputs.isEmpty ? Array(nodes.indices) : neededNodes(for: outputs.map(\.id))
        var lines = ["graph \(name) {"]
        lines += ids.map { "  " + line($0) }
        for (n, v) in stateUpdates where outputs.isEmpty { lines.append("  update \"\(n)\" <- %\(v.id)") }
        for o in outputs { lines.append("  output %\(o.id)") }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// Ids of the nodes that `roots` depend on (roots included), ascending.
    public func neededNodes(for roots: [Int]) -> [Int] {
        var needed = [Bool](repeating: false, count: nodes.count)
        var stack = roots
        while let id = stack.popLast() {
            if needed[id] { continue }
            needed[id] = true
            stack.append(contentsOf: nodes[id].inputs)
        }
        return needed.indices.filter { needed[$0] }
    }
}
