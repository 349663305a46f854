import Foundation

/// What `gengraph dump` prints: one stage of a compilation in one format.
public enum DumpStage: String, CaseIterable, Sendable {
    /// The forward graph (losses only).
    case graph
    /// Forward and gradient nodes as autodiff built them.
    case grad
    /// After simplify, CSE and DCE (and, under a memory limit, with the copies that recompute values).
    case optimized
    /// The optimised nodes grouped into kernels, with the reason at each boundary.
    case fused
    /// The kernel steps in order, with arena offsets and a per-step summary.
    case plan
}

public enum DumpFormat: String, CaseIterable, Sendable {
    case text, dot, json
}

/// Renders a compilation's stages.
public struct Dump {
    public let compilation: Compilation
    /// Program outputs' names, e.g. "loss" or "grad fc1.weight", for labelling.
    public let outputNames: [String]
    public let forwardOutputs: Int

    public init(_ compilation: Compilation, outputNames: [String], forwardOutputs: Int) {
        self.compilation = compilation
        self.outputNames = outputNames
        self.forwardOutputs = forwardOutputs
    }

    public func render(_ stage: DumpStage, _ format: DumpFormat) -> String {
        switch (stage, format) {
        case (.graph, _):
            let forward = eliminateDeadCode(Program(nodes: compilation.program.nodes,
                                                    outputs: Array(compilation.program.outputs.prefix(forwardOutputs))))
            return renderProgram(forward, format, names: Array(outputNames.prefix(forwardOutputs)))
        case (.grad, _): return renderProgram(compilation.program, format, names: outputNames)
        case (.optimized, _): return renderProgram(compilation.optimized, format, names: outputNames, copies: compilation.copies)
        case (.fused, .text): return fusedText()
        case (.plan, .text): return planText()
        case (.fused, .dot), (.plan, .dot): return fusedDot()
        case (.fused, .json), (.plan, .json): return planJSON(stage)
        }
    }

    // MARK: - Programs

    /// `copies`: the copies among `nodes` (`Compilation.copies`), marked with the node each recomputes.
    private func nodeLine(_ id: Int, _ nodes: [Node], group: Int? = nil, copies: [Int: Int] = [:]) -> String {
        let node = nodes[id]
        let cost = NodeCost(node, nodes)
        var line = node.line(id).padding(toLength: max(56, node.line(id).count + 2), withPad: " ", startingAt: 0)
        line += "flops \(cost.flops)  read \(cost.bytesRead)  write \(cost.bytesWritten)"
        if let group { line += "  group \(group)" }
        if let original = copies[id] { line += "  recomputes %\(original)" }
        if let origin = node.origin { line += "  @\(origin)" }
        return line
    }

    private func renderProgram(_ p: Program, _ format: DumpFormat, names: [String], copies: [Int: Int] = [:]) -> String {
        switch format {
        case .text:
            var lines = ["graph {"]
            lines += p.nodes.indices.map { "  " + nodeLine($0, p.nodes, copies: copies) }
            for (k, o) in p.outputs.enumerated() { lines.append("  output %\(o)" + (k < names.count ? "  // \(names[k])" : "")) }
            lines.append("}")
            let flops = p.nodes.reduce(0) { $0 + NodeCost($1, p.nodes).flops }
            lines.append("nodes \(p.nodes.count), flops \(flops) if every node ran alone")
            return lines.joined(separator: "\n")
        case .dot:
            var lines = ["digraph program {", "  node [shape=box, fontname=monospace];"]
            for (id, n) in p.nodes.enumerated() {
                lines.append("  n\(id) [label=\"\(dotEscape(n.line(id)))\"];")
                for i in n.inputs { lines.append("  n\(i) -> n\(id);") }
            }
            lines.append("}")
            return lines.joined(separator: "\n")
        case .json:
            let nodes = p.nodes.enumerated().map { id, n -> [String: Any] in
                let c = NodeCost(n, p.nodes)
                var o: [String: Any] = ["id": id, "op": n.op.name, "attributes": n.op.attributeText, "inputs": n.inputs,
                                        "shape": n.shape.dims, "flops": c.flops, "bytes_read": c.bytesRead, "bytes_written": c.bytesWritten]
                if let origin = n.origin { o["origin"] = origin }
                if let original = copies[id] { o["recomputes"] = original }
                return o
            }
            return json(["nodes": nodes, "outputs": p.outputs, "output_names": names])
        }
    }

    // MARK: - Fusion and plan

    private var fused: FusedProgram { compilation.fused }
    private var plan: Plan { compilation.plan }

    private func groupHeader(_ g: Int) -> String {
        let group = fused.groups[g]
        let nodes = fused.program.nodes
        let origins = Array(Set(group.nodes.compactMap { nodes[$0].origin })).sorted()
        var line = "group \(g) \(group.kind.rawValue) over f32\(group.space)"
            + (group.postSpace.map { ", then f32\($0)" } ?? "") + ": "
        line += group.nodes.map { "%\($0) \(nodes[$0].op.name)" }.joined(separator: ", ")
        if !origins.isEmpty { line += "  from " + origins.joined(separator: ", ") }
        return line
    }

    private func fusedText() -> String {
        let nodes = fused.program.nodes
        var lines: [String] = []
        for g in fused.groups.indices {
            lines.append(groupHeader(g))
            let group = fused.groups[g]
            let passes = group.kind == .phased ? group.phases : [FusionGroup.Phase(nodes: group.nodes, post: [])]
            for (k, phase) in passes.enumerated() {
                if group.kind == .phased { lines.append("  phase \(k)" + (k == 0 ? "" : ", slab by slab after phase \(k - 1)")) }
                for id in (phase.nodes + phase.post).sorted() {
                    let after = group.post.contains(id) ? "  (after the reduction)" : ""
                    lines.append("    " + nodeLine(id, nodes, group: g, copies: compilation.copies) + after)
                }
            }
            let ends = fused.groups[g].boundaries
            lines += ends.isEmpty ? ["    ends: nothing outside reads it"] : ends.map { "    ends: " + $0 }
        }
        let views = nodes.indices.filter { fused.groupOf[$0] == nil && nodes[$0].op.category != .leaf }
        if !views.isEmpty {
            lines.append("no kernel (views of other storage, constants): " + views.map { "%\($0) \(nodes[$0].op.name)" }.joined(separator: ", "))
        }
        let prologues = fused.groups.filter { $0.kind == .prologue }.count
        lines.append("\(fused.groups.count - prologues) kernels for \(nodes.count) nodes"
            + (prologues == 0 ? "" : " (and \(prologues) prologue group\(prologues == 1 ? "" : "s") inside GEMMs)"))
        return lines.joined(separator: "\n")
    }

    private func slotText(_ id: Int) -> String {
        guard let s = plan.slots[id] else { return "%\(id)" }
        return "%\(id)@arena[\(s.offset * 4), \((s.offset + s.count) * 4))" + (plan.inPlace[id].map { " over %\($0)" } ?? "")
    }

    private func planText() -> String {
        var lines: [String] = []
        // Kernel names in one column, as wide as the longest this plan launches.
        let width = max(16, (plan.steps.map(\.kernel.count).max() ?? 0) + 2)
        for (k, step) in plan.steps.enumerated() {
            var line = String(format: "step %3d  ", k) + step.kernel.padding(toLength: width, withPad: " ", startingAt: 0)
            switch step.op {
            case .update: line += "update   "
            case .allReduceStart(let r), .allReduceFinish(let r):
                let start: Bool
                if case .allReduceStart = step.op { start = true } else { start = false }
                line += "bucket \(r.bucket) " + (start ? "start  " : "await  ") + r.parameters.map { "d " + $0 }.joined(separator: ", ")
                    + String(format: "  %.1f KB", Double(r.sizes.reduce(0, +) * 4) / 1e3)
                lines.append(line)
                continue
            default: line += step.group.map { "group \($0)  " } ?? "copy     "
            }
            if case .update(let u) = step.op {
                line += u.parameters.map { plan.leafNames[$0.base - 1] }.joined(separator: " ") + " <- "
            } else {
                line += step.writes.map(slotText).joined(separator: " ") + " <- "
            }
            line += step.reads.isEmpty ? "leaves" : step.reads.map { "%\($0)" }.joined(separator: ", ")
            line += String(format: "  %.2f MFLOP  read %.1f KB  write %.1f KB", Double(step.flops) / 1e6,
                           Double(step.bytesRead) / 1e3, Double(step.bytesWritten) / 1e3)
            line += phasesNote(step).map { "  " + $0 }.joined()
            if !step.prologues.isEmpty {
                line += "  prologue " + step.prologues.map { "group \($0) (%\(fused.groups[$0].stored[0]))" }.joined(separator: ", ")
            }
            lines.append(line)
        }
        let flops = plan.steps.reduce(0) { $0 + $1.flops }
        let bytes = plan.steps.reduce(0) { $0 + $1.bytesRead + $1.bytesWritten }
        lines.append("")
        lines.append("kernels per step    \(plan.steps.count)")
        lines.append(String(format: "arena               %.3f MB", Double(plan.arenaFloats * 4) / 1e6))
        lines.append(String(format: "peak live           %.3f MB", Double(plan.peakFloats * 4) / 1e6))
        if let limit = compilation.limitFloats {
            let copies = compilation.copies.count
            lines.append(String(format: "memory limit        %.3f MB, %@: %d node%@ copied to recompute values, %.4f GFLOP", Double(limit * 4) / 1e6,
                                compilation.fits ? "met" : "not met", copies, copies == 1 ? "" : "s", Double(copyFlops) / 1e9))
        }
        lines.append(String(format: "flops per step      %.4f GFLOP", Double(flops) / 1e9))
        lines.append(String(format: "bytes per step      %.3f MB", Double(bytes) / 1e6))
        let phased = plan.steps.filter { $0.phases > 0 }
        if !phased.isEmpty {
            lines.append(String(format: "phased kernels      %d (%d passes), %.3f MB less than as separate kernels", phased.count,
                                phased.reduce(0) { $0 + $1.phases }, Double(phased.reduce(0) { $0 + $1.bytesSaved }) / 1e6))
        }
        lines.append(String(format: "intensity           %.2f flop/byte", bytes == 0 ? 0 : Double(flops) / Double(bytes)))
        return lines.joined(separator: "\n")
    }

    /// FLOPs of the copies that recompute values under a memory limit, were each to run alone.
    private var copyFlops: Int {
        let nodes = compilation.optimized.nodes
        return compilation.copies.keys.reduce(0) { $0 + NodeCost(nodes[$1], nodes).flops }
    }

    private func fusedDot() -> String {
        let nodes = fused.program.nodes
        var lines = ["digraph plan {", "  compound=true;", "  node [shape=box, fontname=monospace, fontsize=10];"]
        for (g, group) in fused.groups.enumerated() {
            lines.append("  subgraph cluster_\(g) {")
            lines.append("    label=\"group \(g) \(group.kind.rawValue) f32\(group.space)\"; style=rounded; color=\(group.kind == .contraction ? "blue" : "gray40");")
            for id in group.nodes { lines.append("    n\(id) [label=\"\(dotEscape(nodes[id].line(id)))\"];") }
            lines.append("  }")
        }
        for (id, n) in nodes.enumerated() {
            if fused.groupOf[id] == nil { lines.append("  n\(id) [label=\"\(dotEscape(n.line(id)))\", style=dashed];") }
            for i in n.inputs { lines.append("  n\(i) -> n\(id);") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    private func planJSON(_ stage: DumpStage) -> String {
        let groups = fused.groups.enumerated().map { g, group -> [String: Any] in
            ["id": g, "kind": group.kind.rawValue, "space": group.space.dims, "nodes": group.nodes,
             "stored": group.stored, "boundaries": group.boundaries]
        }
        var object: [String: Any] = ["groups": groups]
        if stage == .plan {
            object["steps"] = plan.steps.enumerated().map { k, s -> [String: Any] in
                var o: [String: Any] = ["index": k, "kernel": s.kernel, "writes": s.writes, "reads": s.reads, "flops": s.flops,
                                        "bytes_read": s.bytesRead, "bytes_written": s.bytesWritten]
                if let g = s.group { o["group"] = g }
                if case .allReduceStart(let r) = s.op { o["all_reduce"] = ["bucket": r.bucket, "at": "start", "parameters": r.parameters] }
                if case .allReduceFinish(let r) = s.op { o["all_reduce"] = ["bucket": r.bucket, "at": "await", "parameters": r.parameters] }
                if !s.prologues.isEmpty { o["prologue_groups"] = s.prologues }
                o["arena"] = s.writes.compactMap { plan.slots[$0].map { ["offset_bytes": $0.offset * 4, "bytes": $0.count * 4] } }
                return o
            }
            object["arena_bytes"] = plan.arenaFloats * 4
            if let limit = compilation.limitFloats {
                object["memory_limit"] = ["bytes": limit * 4, "met": compilation.fits, "copy_flops": copyFlops,
                                          "copies": compilation.copies.keys.sorted().map { ["copy": $0, "of": compilation.copies[$0]!] }]
            }
            object["peak_bytes"] = plan.peakFloats * 4
        }
        return json(object)
    }

    private func json(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private func dotEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
