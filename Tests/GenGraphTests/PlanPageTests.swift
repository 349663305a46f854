@testable import GenGraph
import Foundation
import XCTest

/// `dump --format html` without a browser: every kernel is on the page, model text is escaped,
/// a missing `dot` or output directory says so, phases and origins are what the page shows.
final class PlanPageTests: XCTestCase {
    static let point = Roofline.Point(threads: 1, peakGFLOPs: 50, bandwidthGBs: 10)

    /// The page of zoo model `name` (or of `source`) at batch 4, as `dump --format html` builds it.
    static func page(_ name: String, source: ModelSource? = nil, seconds: Bool = false,
                     layout: ((String) throws -> String)? = nil) throws -> PlanPage {
        let source = try source ?? XCTUnwrap(DSLZoo.model(named: name))
        let instance = try source.definition().instantiate(batch: 4)
        let trainer = try Trainer(model: instance, config: RunConfig(threads: 1, mode: .fused))
        let objectives = try zip(instance.objectives, trainer.trainingSteps).map { o, step in
            let compilation = try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates)
            return PlanPage.Objective(name: o.name, compilation: compilation, gradientOutputs: step.plannedUpdates.gradientOutputs,
                                      seconds: seconds ? compilation.plan.steps.map { _ in 1e-4 } : nil)
        }
        return PlanPage(title: name, subtitle: "batch 4", source: source, objectives: objectives, roofline: point,
                        layout: layout ?? { _ in "<svg></svg>" })
    }

    private func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testEveryKernelHasARowADetailAndAGraphBox() throws {
        for name in ["vae", "dcgan"] {
            let page = try Self.page(name, seconds: true, layout: { $0 })  // the dot text stands in for its SVG
            let html = page.html
            XCTAssertEqual(count("<section class=\"objective\"", in: html), page.objectives.count, name)
            XCTAssertEqual(page.objectives.count, name == "dcgan" ? 2 : 1, name)
            for (o, objective) in page.objectives.enumerated() {
                let steps = objective.compilation.plan.steps.count
                XCTAssertEqual(page.kernels[o].count, steps, name)
                let section = html.components(separatedBy: "<section class=\"objective\" id=\"o\(o)\"")[1].components(separatedBy: "</section>")[0]
                XCTAssertTrue(section.contains("data-kernels=\"\(steps)\""), name)
                XCTAssertEqual(count("<tr class=", in: section), steps, name)
                XCTAssertEqual(count("<div class=\"detail\"", in: section), steps, name)
                for k in 0..<steps {
                    XCTAssertTrue(section.contains("<tr class=\"\(page.kernels[o][k].phase.rawValue)\" data-k=\"\(k)\""), "\(name) #\(k)")
                    XCTAssertTrue(section.contains("id=\"o\(o)_k\(k)\""), "\(name) graph box #\(k)")
                }
                // With times, the table has the profile's columns and the chart a dot per kernel with FLOPs.
                XCTAssertTrue(section.contains("% of roof"), name)
                XCTAssertEqual(count("class=\"rdot\"", in: section), page.kernels[o].filter { $0.flops > 0 && $0.bytes > 0 }.count, name)
            }
        }
    }

    /// `dump A --diff B --format html`: the totals A and B, the kernels only one launches, and A's rows
    /// of the kinds only A launches marked; a comparison with itself marks nothing.
    func testTheComparedPlanShowsItsTotalsAndMarksTheKernelsOnlyThisPlanLaunches() throws {
        let source = try XCTUnwrap(DSLZoo.model(named: "dcgan"))
        func compilations(_ off: Set<FusionKind>) throws -> [(TrainingStep, Compilation)] {
            var config = RunConfig(threads: 1, mode: .fused)
            config.fusionOff = off
            let trainer = try Trainer(model: try source.definition().instantiate(batch: 4), config: config)
            return try trainer.trainingSteps.map { ($0, try trainer.session.compilation(for: $0.outputs, updates: $0.plannedUpdates)) }
        }
        let full = try compilations([]), bare = try compilations([.epilogues])
        for (against, itself) in [(bare, false), (full, true)] {
            let objectives = zip(full, against).map { a, b in
                PlanPage.Objective(name: "d_loss", compilation: a.1, gradientOutputs: a.0.plannedUpdates.gradientOutputs,
                                   comparison: PlanPage.Comparison(against: "dcgan <B>", diff: PlanDiff(a.1.plan, b.1.plan)))
            }
            let html = PlanPage(title: "dcgan", subtitle: "", source: source, objectives: [objectives[0]], roofline: Self.point,
                                layout: { _ in "<svg></svg>" }).html
            let diff = try XCTUnwrap(objectives[0].comparison).diff
            XCTAssertTrue(html.contains("Compared with B = dcgan &lt;B&gt;"))
            XCTAssertTrue(html.contains("<td>kernels</td><td>\(diff.before.kernels)</td><td>\(diff.after.kernels)</td>"), html)
            let surplus = Set(diff.removed.map(\.signature))
            let marked = PlanDiff.signatures(objectives[0].compilation.plan).filter { surplus.contains($0) }.count
            XCTAssertEqual(count(" only-a\" data-k=", in: html), marked)
            XCTAssertEqual(count("<li>", in: html.components(separatedBy: "class=\"only-b\"").dropFirst().first ?? ""),
                           diff.added.count)
            XCTAssertEqual(diff.isEmpty, itself)
            if itself { XCTAssertEqual(marked, 0) } else { XCTAssertGreaterThan(marked, 0, "epilogues off: A's epilogue kernels are only in A") }
        }
    }

    /// Every zoo model's page renders, with a row per kernel of each objective and each phase where it belongs.
    func testEveryZooModel() throws {
        for name in DSLZoo.names {
            let page = try Self.page(name)
            for (o, kernels) in page.kernels.enumerated() {
                XCTAssertEqual(kernels.count, page.objectives[o].compilation.plan.steps.count, name)
                // (A backward kernel may come first: one that only reads leaves, such as the gradient of a constant's sum.)
                XCTAssertEqual(Set(kernels.map(\.phase)), Set(PlanPhase.allCases), name)
            }
            XCTAssertEqual(count("<tr class=", in: page.html), page.kernels.map(\.count).reduce(0, +), name)
        }
    }

    /// The step starts forward, updates follow gradients and apply optimiser steps, and gradient kernels point at the
    /// source lines of the ops they differentiate.
    func testPhasesAndSourceLines() throws {
        let page = try Self.page("vae")
        let kernels = page.kernels[0]
        XCTAssertEqual(Set(kernels.map(\.phase)), Set(PlanPhase.allCases))
        XCTAssertEqual(kernels.first?.phase, .forward)
        XCTAssertLessThan(try XCTUnwrap(kernels.firstIndex { $0.phase == .backward }), try XCTUnwrap(kernels.firstIndex { $0.phase == .update }))
        for k in kernels where k.phase == .update {
            XCTAssertTrue(k.kernel.hasSuffix("_multi_f32"), k.kernel)
            XCTAssertFalse(k.ops.isEmpty, "an update names its parameters")
        }
        let backward = kernels.filter { $0.phase == .backward }
        let located = backward.filter { !page.sourceLines($0.origins).isEmpty }
        XCTAssertGreaterThan(located.count * 10, backward.count * 9, "most gradient kernels have source lines")
        let sourceLineCount = try XCTUnwrap(page.source).text.split(separator: "\n", omittingEmptySubsequences: false).count
        for k in kernels { for line in page.sourceLines(k.origins) { XCTAssertTrue((1...sourceLineCount).contains(line)) } }
    }

    func testModelTextIsEscaped() throws {
        let zoo = try XCTUnwrap(DSLZoo.model(named: "ae"))
        let hostile = "# <script>alert(1)</script> & \"quoted\" <b>bold</b>\n" + zoo.text
        let page = try Self.page("<i>ae</i>", source: ModelSource.parse(hostile, file: "a<b>.gg"))
        let html = page.html
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt;"))
        XCTAssertFalse(html.contains("<script>alert"))
        XCTAssertFalse(html.contains("<b>bold"))
        XCTAssertFalse(html.contains("<i>ae</i>"))
        XCTAssertTrue(html.contains("a&lt;b&gt;.gg"))
        // The origins name the escaped file, and still map to its lines (each one down by the added comment).
        XCTAssertFalse(page.kernels[0].flatMap { page.sourceLines($0.origins) }.isEmpty)
        XCTAssertFalse(page.kernels[0].flatMap { page.sourceLines($0.origins) }.contains(1))
    }

    func testMissingDotIsNamedAndThePageStillRenders() throws {
        XCTAssertThrowsError(try Graphviz.svg("digraph { a }", searching: "/nonexistent")) { error in
            XCTAssertTrue(String(describing: error).contains("needs Graphviz's `dot`"), "\(error)")
            XCTAssertTrue(String(describing: error).contains("tools/setup.sh"), "\(error)")
        }
        let page = try Self.page("ae", layout: { try Graphviz.svg($0, searching: "/nonexistent") })
        XCTAssertEqual(page.notes.count, 1)
        XCTAssertEqual(page.graphs, [nil])
        XCTAssertTrue(page.html.contains("No graph: gengraph dump --format html needs Graphviz"))
        XCTAssertEqual(count("<tr class=", in: page.html), page.kernels[0].count)
    }

    func testGraphvizLaysOutTheKernelGraph() throws {
        guard Graphviz.executable() != nil else {
            throw Prerequisites.missing("Graphviz's dot is not installed", install: "bash tools/setup.sh")
        }
        let page = try Self.page("ae", layout: { try Graphviz.svg($0) })
        let svg = try XCTUnwrap(page.graphs[0])
        XCTAssertTrue(svg.hasPrefix("<svg"))
        for k in page.kernels[0] { XCTAssertTrue(svg.contains("id=\"o0_k\(k.index)\""), "#\(k.index)") }
    }

    func testWritingIntoAMissingDirectoryIsAClearError() throws {
        let page = try Self.page("ae")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-no-such-\(UUID().uuidString)/plan.html").path
        XCTAssertThrowsError(try page.write(to: path)) { error in
            XCTAssertTrue(String(describing: error).contains("there is no directory"), "\(error)")
        }
        let good = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-plan-\(UUID().uuidString).html").path
        defer { try? FileManager.default.removeItem(atPath: good) }
        try page.write(to: good)
        XCTAssertEqual(try String(contentsOfFile: good, encoding: .utf8), page.html)
    }

    /// Profiled medians: one per plan step of each objective, each a time.
    func testProfilerTimesEveryPlanStep() throws {
        let model = try XCTUnwrap(Zoo.model(named: "dcgan")).instantiate(batch: 4)
        let trainer = try Trainer(model: model, config: RunConfig(threads: 1, mode: .fused))
        let seconds = try PlanProfiler.medianSeconds(trainer, warmup: 1, steps: 3) { FusedEagerTests.batch(model, seed: 1) }
        XCTAssertEqual(seconds.count, 2)
        for (times, step) in zip(seconds, trainer.trainingSteps) {
            let plan = try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates).plan
            XCTAssertEqual(times.count, plan.steps.count)
            XCTAssertTrue(times.allSatisfy { $0 > 0 && $0 < 10 })
        }
        XCTAssertFalse(trainer.session.statistics.profiling || trainer.session.statistics.keepsStepTimes)
    }
}

/// `gengraph dump --format html` on bad input: one clear line and a non-zero exit.
final class PlanPageCLITests: XCTestCase {
    private func gengraph(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = try XCTUnwrap(CLITests.binary, "the gengraph binary is not built next to the tests")
        return try Prerequisites.run([binary.path] + arguments)
    }

    private func assertFails(_ arguments: [String], saying expected: String, line: UInt = #line) throws {
        let (status, output) = try gengraph(arguments)
        XCTAssertNotEqual(status, 0, "gengraph \(arguments) should fail", line: line)
        XCTAssertTrue(output.contains(expected), "gengraph \(arguments): expected '\(expected)' in:\n\(output)", line: line)
        XCTAssertFalse(output.contains("Fatal error") || output.contains("Stack dump"), "crashed:\n\(output)", line: line)
    }

    func testBadPageOptions() throws {
        try assertFails(["dump", "ae", "--format", "html"], saying: "give --out PLAN.html")
        try assertFails(["dump", "ae", "--profile"], saying: "--profile is for the page: add --format html")
        try assertFails(["dump", "ae", "--out", "p.html"], saying: "--out is for the page")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-page-\(UUID().uuidString)")
        try assertFails(["dump", "ae", "--format", "html", "--out", directory.appendingPathComponent("plan.html").path],
                        saying: "there is no directory")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("plan.html").path
        let (status, output) = try gengraph(["dump", "dcgan", "--format", "html", "--out", out, "--batch", "4"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("kernels in 2 objectives"), output)
        XCTAssertTrue(try String(contentsOfFile: out, encoding: .utf8).contains("<section class=\"objective\" id=\"o1\""))
    }
}
