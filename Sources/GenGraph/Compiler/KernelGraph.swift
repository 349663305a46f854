/// A plan's kernels as a Graphviz graph: one box per step (dot id `<idPrefix>k<index>`, which its
/// SVG element keeps, so a page can find it), an edge where a step reads what another wrote,
/// filled by phase. Coarser than `dump --format dot`, which draws every node.
public func kernelGraphDot(_ kernels: [PlanKernel], idPrefix: String = "") -> String {
    var lines = ["digraph kernels {", "  rankdir=TB;"]
    // dot's network simplex and crossing minimisation run for minutes on hundreds of kernels (cyclegan's
    // generator step has 613): capped there, the layout takes seconds and is still readable.
    if kernels.count > 200 { lines.append("  nslimit=1; nslimit1=1; mclimit=0.1;") }
    lines += ["  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10, penwidth=1];",
              "  edge [color=\"#888888\", arrowsize=0.6];"]
    for k in kernels {
        let ops = k.ops.count > 4 ? k.ops.prefix(4).joined(separator: " ") + " +\(k.ops.count - 4)" : k.ops.joined(separator: " ")
        let label = "#\(k.index) \(k.kernel)\\n\(dotEscape(ops))"
        lines.append("  k\(k.index) [id=\"\(dotEscape(idPrefix))k\(k.index)\", label=\"\(label)\", fillcolor=\"\(k.phase.fill)\", tooltip=\"kernel \(k.index)\"];")
    }
    for k in kernels { for i in k.inputs { lines.append("  k\(i) -> k\(k.index);") } }
    lines.append("}")
    return lines.joined(separator: "\n")
}

extension PlanPhase {
    /// The fill each phase has in the kernel graph, the table and the roofline chart.
    public var fill: String {
        switch self {
        case .forward: return "#cfe3ff"
        case .backward: return "#ffdcb0"
        case .update: return "#cdeccd"
        }
    }

    /// The stronger colour of the same hue: the table's band, the chart's dot outlines.
    public var band: String {
        switch self {
        case .forward: return "#3b7dd8"
        case .backward: return "#e08a1e"
        case .update: return "#3a9a3a"
        }
    }
}

private func dotEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
}
