import Foundation

/// `gengraph dump --format html`: one self-contained page (inline CSS, script and SVG; nothing
/// fetched) showing a model's compiled training steps. Per objective: the kernel graph (laid out
/// by Graphviz), a sortable table of the kernels, a roofline chart and the fusion boundaries; beside
/// them the model's source, whose lines light up when a kernel is selected. Opened with `#selftest`
/// the page checks itself and writes the result into `#gg-selftest` (what the browser test reads).
public struct PlanPage {
    /// One objective's compiled step, as the page takes it.
    public struct Objective {
        public let name: String
        public let compilation: Compilation
        /// The program outputs the plan's updates consume (`PlannedUpdates.gradientOutputs`).
        public let gradientOutputs: [Int]
        /// Median seconds of each plan step over profiled runs (`PlanProfiler`), or nil.
        public let seconds: [Double]?
        /// Another plan of this objective to compare with (`dump --diff`), or nil.
        public let comparison: Comparison?

        /// `seconds` that are not one per plan step (times of another plan) are left out.
        public init(name: String, compilation: Compilation, gradientOutputs: [Int], seconds: [Double]? = nil,
                    comparison: Comparison? = nil) {
            self.name = name
            self.compilation = compilation
            self.gradientOutputs = gradientOutputs
            self.seconds = seconds?.count == compilation.plan.steps.count ? seconds : nil
            self.comparison = comparison
        }
    }

    /// Plan B of a diff: what it is (`dcgan --fusion-off epilogues`) and how this plan, A, differs from it.
    public struct Comparison {
        public let against: String
        public let diff: PlanDiff

        public init(against: String, diff: PlanDiff) {
            self.against = against
            self.diff = diff
        }
    }

    public let title: String
    /// A line under the title (batch, threads, ...).
    public let subtitle: String
    public let source: ModelSource?
    public let objectives: [Objective]
    /// The roof the chart and the table's "% roof" use; without one the chart is left out.
    public let roofline: Roofline.Point?
    /// Each objective's kernels.
    public let kernels: [[PlanKernel]]
    /// Each objective's kernel graph as SVG, or nil where it could not be laid out.
    public let graphs: [String?]
    /// Why graphs are missing (`dot` not installed, say); empty when all are there.
    public let notes: [String]

    /// `layout` turns dot text into SVG (Graphviz by default); when it fails the page has no graphs
    /// and `notes` says why, but everything else is still there.
    public init(title: String, subtitle: String, source: ModelSource?, objectives: [Objective], roofline: Roofline.Point?,
                layout: (String) throws -> String = { try Graphviz.svg($0) }) {
        self.title = title
        self.subtitle = subtitle
        self.source = source
        self.objectives = objectives
        self.roofline = roofline
        kernels = objectives.map { $0.compilation.kernels(gradientOutputs: $0.gradientOutputs) }
        var notes: [String] = []
        graphs = kernels.enumerated().map { o, kernels in
            guard notes.isEmpty else { return nil }
            do {
                return try layout(kernelGraphDot(kernels, idPrefix: "o\(o)_"))
            } catch {
                notes.append(String(describing: error))
                return nil
            }
        }
        self.notes = notes
    }

    public var html: String {
        var page = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
                    "<title>gengraph plan: \(HTML.escape(title))</title>", "<style>\(PlanPageAssets.css)</style>",
                    "<script>\(PlanPageAssets.errorHook)</script>", "</head><body>"]
        page.append("<header><h1>\(HTML.escape(title))</h1><p>\(HTML.escape(subtitle))</p>")
        if objectives.count > 1 {
            page.append("<nav class=\"tabs\">" + objectives.enumerated().map { o, objective in
                "<button class=\"tab\" data-o=\"\(o)\">\(HTML.escape(objective.name))</button>"
            }.joined() + "</nav>")
        }
        page.append("<p class=\"legend\">" + PlanPhase.allCases.map {
            "<span class=\"swatch \($0.rawValue)\"></span>\($0.rawValue)"
        }.joined(separator: " ") + " &middot; click a row, a graph box or a chart dot to select a kernel; click a column header to sort</p>")
        for note in notes { page.append("<p class=\"note\">\(HTML.escape(note))</p>") }
        page.append("</header><pre id=\"gg-errors\" hidden></pre><div class=\"layout\"><main>")
        for (o, objective) in objectives.enumerated() { page.append(section(o, objective)) }
        page.append("</main>")
        page.append(sourcePane)
        page.append("</div><pre id=\"gg-selftest\" hidden></pre><script>\(PlanPageAssets.script)</script></body></html>")
        return page.joined(separator: "\n")
    }

    // MARK: - One objective

    private func section(_ o: Int, _ objective: Objective) -> String {
        let kernels = self.kernels[o]
        let plan = objective.compilation.plan
        var parts = ["<section class=\"objective\" id=\"o\(o)\" data-o=\"\(o)\" data-name=\"\(HTML.escape(objective.name))\" "
                     + "data-kernels=\"\(kernels.count)\">",
                     "<h2>objective \(HTML.escape(objective.name))</h2>"]
        let flops = kernels.reduce(0) { $0 + $1.flops }, bytes = kernels.reduce(0) { $0 + $1.bytes }
        var stats = String(format: "%d kernels &middot; %.4f GFLOP and %.2f MB moved per step &middot; arena %.2f MB, peak live %.2f MB",
                           kernels.count, Double(flops) / 1e9, Double(bytes) / 1e6, Double(plan.arenaFloats * 4) / 1e6,
                           Double(plan.peakFloats * 4) / 1e6)
        if let seconds = objective.seconds {
            stats += String(format: " &middot; %.3f ms measured inside kernels (medians)", seconds.reduce(0, +) * 1000)
        }
        parts.append("<p class=\"stats\">\(stats)</p>")
        if let comparison = objective.comparison { parts.append(diffSection(comparison)) }
        parts.append("<div class=\"figures\"><figure class=\"graph\"><figcaption>Kernel graph"
                     + (graphs[o] == nil ? "" : "<button type=\"button\">actual size</button>") + "</figcaption>"
                     + (graphs[o] ?? "<p class=\"note\">No graph: \(HTML.escape(notes.first ?? "Graphviz failed"))</p>") + "</figure>")
        if let roofline {
            let chart = RooflineChart(point: roofline, kernels: kernels, seconds: objective.seconds)
            let left = kernels.count - chart.dots.count
            parts.append("<figure class=\"chart\"><figcaption>Roofline: "
                         + (objective.seconds == nil ? "each kernel at its roof (run with --profile to place it at its measured speed)"
                            : "each kernel at its measured speed") + (left > 0 ? "; \(left) without FLOPs not shown" : "")
                         + "</figcaption>\(chart.svg)</figure>")
        }
        parts.append("</div>")
        parts.append("<div class=\"details\"><p class=\"hint\">Select a kernel to see its nodes, source lines and fusion boundaries.</p>")
        parts += kernels.map(detail)
        parts.append("</div>")
        parts.append(table(kernels, objective.seconds, onlyHere: onlyInThisPlan(objective)))
        parts.append("<h3>Fusion boundaries</h3><p class=\"hint\">Why each kernel's stored values could not be consumed inside it.</p><ul class=\"boundaries\">")
        for k in kernels {
            for b in k.boundaries {
                parts.append("<li data-k=\"\(k.index)\"><span class=\"kref\">#\(k.index)</span> \(HTML.escape(b))</li>")
            }
        }
        parts.append("</ul></section>")
        return parts.joined(separator: "\n")
    }

    /// Totals A and B with the change, then the kernels only one plan launches (matched by what they compute).
    private func diffSection(_ c: Comparison) -> String {
        let d = c.diff
        var parts = ["<div class=\"diff\"><h3>Compared with B = \(HTML.escape(c.against))</h3>",
                     "<table class=\"difftotals\"><thead><tr><th></th><th>A (this page)</th><th>B</th><th>change</th></tr></thead><tbody>"]
        func row(_ name: String, _ a: Double, _ b: Double, _ format: String) {
            let relative = a == 0 ? "" : String(format: " (%+.1f%%)", 100 * (b - a) / a)
            parts.append("<tr><td>\(name)</td><td>" + String(format: format, a) + "</td><td>" + String(format: format, b)
                         + "</td><td>" + String(format: format.replacingOccurrences(of: "%", with: "%+"), b - a) + relative + "</td></tr>")
        }
        row("kernels", Double(d.before.kernels), Double(d.after.kernels), "%.0f")
        row("GFLOP per step", Double(d.before.flops) / 1e9, Double(d.after.flops) / 1e9, "%.4f")
        row("MB moved per step", Double(d.before.bytes) / 1e6, Double(d.after.bytes) / 1e6, "%.3f")
        row("arena MB", Double(d.before.arenaBytes) / 1e6, Double(d.after.arenaBytes) / 1e6, "%.3f")
        parts.append("</tbody></table>")
        func list(_ title: String, _ changes: [PlanDiff.Change], _ className: String) {
            let n = changes.reduce(0) { $0 + $1.count }
            parts.append("<p>\(title) (\(n))" + (changes.isEmpty ? ": none" : ":") + "</p>")
            guard !changes.isEmpty else { return }
            parts.append("<ul class=\"\(className)\">" + changes.map {
                "<li>" + ($0.count > 1 ? "\($0.count)&times; " : "") + HTML.escape($0.signature.description) + "</li>"
            }.joined() + "</ul>")
        }
        list("Kernels only in A, marked in the table below", d.removed, "only-a")
        list("Kernels only in B", d.added, "only-b")
        parts.append("</div>")
        return parts.joined(separator: "\n")
    }

    /// The kernels of this plan whose signature the compared plan launches fewer times (all of that signature's rows).
    private func onlyInThisPlan(_ objective: Objective) -> Set<Int> {
        guard let removed = objective.comparison?.diff.removed, !removed.isEmpty else { return [] }
        let surplus = Set(removed.map(\.signature))
        return Set(PlanDiff.signatures(objective.compilation.plan).enumerated().filter { surplus.contains($0.element) }.map(\.offset))
    }

    private func detail(_ k: PlanKernel) -> String {
        var lines = ["<b>#\(k.index) \(HTML.escape(k.kernel))</b> (\(k.kind), \(k.phase.rawValue))"]
        lines.append((k.kind == "update" ? "parameters: " : "nodes: ") + HTML.escape(k.ops.joined(separator: " ")))
        if !k.origins.isEmpty { lines.append("from: " + HTML.escape(k.origins.joined(separator: ", "))) }
        if !k.inputs.isEmpty { lines.append("reads the output of: " + k.inputs.map { "#\($0)" }.joined(separator: " ")) }
        lines += k.boundaries.map { "ends: " + HTML.escape($0) }
        return "<div class=\"detail\" data-k=\"\(k.index)\" hidden>" + lines.joined(separator: "<br>") + "</div>"
    }

    private func table(_ kernels: [PlanKernel], _ seconds: [Double]?, onlyHere: Set<Int>) -> String {
        var header = [("k", "#", "num"), ("phase", "phase", "text"), ("kernel", "kernel", "text"), ("kind", "kind", "text"),
                      ("ops", "member ops", "text"), ("flops", "FLOPs", "num"), ("bytes", "bytes", "num"),
                      ("intensity", "FLOP/byte", "num"), ("arena", "arena (offset +size)", "num")]
        if seconds != nil { header += [("time", "median µs", "num"), ("roof", "% of roof", "num")] }
        var rows = ["<div class=\"tablebox\"><table class=\"kernels\"><thead><tr>" + header.map { key, title, type in
            "<th data-key=\"\(key)\" data-type=\"\(type)\">\(title)</th>"
        }.joined() + "</tr></thead><tbody>"]
        for k in kernels {
            var cells = [cell(k.index, "\(k.index)"), cell(k.phase.rawValue, k.phase.rawValue), cell(k.kernel, HTML.escape(k.kernel), "kernel"),
                         cell(k.kind, k.kind), cell(k.ops.joined(separator: " "), HTML.escape(k.ops.joined(separator: " ")), "ops"),
                         cell(k.flops, quantity(Double(k.flops)), "num"), cell(k.bytes, quantity(Double(k.bytes)) + "B", "num"),
                         cell(String(format: "%.4g", k.intensity), String(format: "%.2f", k.intensity), "num"),
                         cell(k.arena.first?.offset ?? -1, k.arena.map { "\(quantity(Double($0.offset)))B +\(quantity(Double($0.bytes)))B" }
                            .joined(separator: "<br>"), "num")]
            if let seconds {
                let s = seconds[k.index], share = roofShare(k, seconds: s)
                cells.append(cell(String(format: "%.6g", s * 1e6), String(format: "%.1f", s * 1e6), "num"))
                cells.append(cell(share.map { String(format: "%.4g", $0 * 100) } ?? "-1", share.map { String(format: "%.1f%%", $0 * 100) } ?? "", "num"))
            }
            let lines = sourceLines(k.origins).map(String.init).joined(separator: " ")
            rows.append("<tr class=\"\(k.phase.rawValue)\(onlyHere.contains(k.index) ? " only-a" : "")\" data-k=\"\(k.index)\" data-lines=\"\(lines)\">" + cells.joined() + "</tr>")
        }
        rows.append("</tbody></table></div>")
        return rows.joined(separator: "\n")
    }

    private func cell(_ value: CustomStringConvertible, _ text: String, _ className: String? = nil) -> String {
        "<td data-v=\"\(HTML.escape(value.description))\"" + (className.map { " class=\"\($0)\"" } ?? "") + ">\(text)</td>"
    }

    /// The measured share of the kernel's roof; a kernel without FLOPs (a copy) is held to the bandwidth, as `bench --profile` does.
    private func roofShare(_ k: PlanKernel, seconds: Double) -> Double? {
        guard let roofline, seconds > 0 else { return nil }
        if k.flops == 0 { return Double(k.bytes) / seconds / 1e9 / roofline.bandwidthGBs }
        let roof = k.bytes == 0 ? roofline.peakGFLOPs : min(roofline.peakGFLOPs, k.intensity * roofline.bandwidthGBs)
        return Double(k.flops) / seconds / 1e9 / roof
    }

    private func quantity(_ v: Double) -> String {
        for (scale, suffix) in [(1e9, " G"), (1e6, " M"), (1e3, " k")] where v >= scale { return String(format: "%.3g%@", v / scale, suffix) }
        return String(format: "%.0f ", v)
    }

    // MARK: - Source

    /// The lines of this page's source that `origins` (`file:line:column`) point at.
    func sourceLines(_ origins: [String]) -> [Int] {
        guard let source else { return [] }
        return Set(origins.compactMap { origin -> Int? in
            let parts = origin.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts.dropLast(2).joined(separator: ":") == source.file else { return nil }
            return Int(parts[parts.count - 2])
        }).sorted()
    }

    private var sourcePane: String {
        guard let source else { return "<aside class=\"source\"><p class=\"hint\">No source.</p></aside>" }
        let lines = source.text.split(separator: "\n", omittingEmptySubsequences: false)
        return "<aside class=\"source\"><h2>\(HTML.escape(source.file))</h2><pre>" + lines.enumerated().map { n, line in
            "<span class=\"ln\" id=\"L\(n + 1)\"><span class=\"no\">\(n + 1)</span>\(HTML.escape(String(line)))</span>"
        }.joined() + "</pre></aside>"
    }
}

extension PlanPage {
    /// Writes the page to `path` whole (a temporary file, then a rename).
    public func write(to path: String) throws {
        try Self.checkDirectory(of: path)
        try OutputFile.writeAtomically(Array(html.utf8), to: path)
    }

    /// Fails, naming it, when the directory `path` would go into does not exist: the CLI checks before it compiles and times.
    public static func checkDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty && !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw OutputError.cannotWrite(path: path, reason: "there is no directory '\(directory)'")
        }
    }
}
