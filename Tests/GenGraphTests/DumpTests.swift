@testable import GenGraph
import Foundation
import XCTest

/// `gengraph dump` on every zoo model: every stage in every format renders, the
/// JSON parses, and the plan text keeps the layout docs/compiler.md documents.
final class DumpTests: XCTestCase {
    /// Each objective's training step as `gengraph dump` compiles it (the plan `train` runs).
    private func dumps(_ name: String) throws -> [Dump] {
        let instance = try XCTUnwrap(Zoo.model(named: name)).instantiate(batch: 4)
        let trainer = try Trainer(model: instance, config: RunConfig(threads: 1, mode: .fused))
        return try zip(instance.objectives, trainer.trainingSteps).map { o, step in
            let compilation = try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates)
            return Dump(compilation, outputNames: step.outputNames(loss: o.name), forwardOutputs: 1)
        }
    }

    /// What dump compiles is the plan a fused training step runs: after one step, asking for
    /// the same outputs and updates hits the session's plan cache (batch norm's running
    /// statistics included, which a dump of the loss and gradients alone would leave out).
    func testDumpShowsThePlanTrainingRuns() throws {
        for name in ["dcgan", "vae"] {
            let model = try XCTUnwrap(Zoo.model(named: name)).instantiate(batch: 4)
            let trainer = try Trainer(model: model, config: RunConfig(threads: 1, mode: .fused))
            try trainer.step { FusedEagerTests.batch(model, seed: 1) }
            let (misses, hits) = (trainer.session.planCache.misses, trainer.session.planCache.hits)
            for step in trainer.trainingSteps {
                _ = try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates)
            }
            XCTAssertEqual(trainer.session.planCache.misses, misses, name)
            XCTAssertEqual(trainer.session.planCache.hits, hits + trainer.trainingSteps.count, name)
        }
    }

    func testEveryStageAndFormatRendersForEveryZooModel() throws {
        for model in Zoo.models {
            for dump in try dumps(model.name) {
                for stage in DumpStage.allCases {
                    for format in DumpFormat.allCases {
                        let text = dump.render(stage, format)
                        XCTAssertFalse(text.isEmpty, "\(model.name) \(stage) \(format)")
                        if format == .json {
                            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(text.utf8)), "\(model.name) \(stage) json")
                        }
                        if format == .dot { XCTAssertTrue(text.hasPrefix("digraph"), "\(model.name) \(stage) dot") }
                    }
                }
            }
        }
    }

    /// Step lines: `step K  KERNEL  group G  ...` (or `copy`, `update`), the group column where every line has it
    /// (kernel names of any length), then the summary.
    func testPlanTextColumnsAndSummary() throws {
        for name in ["vae", "dcgan", "pixelcnn"] {
            let text = try XCTUnwrap(dumps(name).first).render(.plan, .text)
            let steps = text.split(separator: "\n").filter { $0.hasPrefix("step ") }
            XCTAssertFalse(steps.isEmpty, name)
            var columns = Set<Int>()
            for line in steps {
                guard let r = line.range(of: "  group ") ?? line.range(of: "  copy ") ?? line.range(of: "  update ") else {
                    XCTFail("\(name): no separate group column in '\(line)'")
                    continue
                }
                columns.insert(line.distance(from: line.startIndex, to: r.lowerBound))
            }
            XCTAssertEqual(columns.count, 1, "\(name): the group column moves:\n\(steps.prefix(12).joined(separator: "\n"))")
            for label in ["kernels per step", "arena", "peak live", "flops per step", "bytes per step", "intensity"] {
                XCTAssertTrue(text.contains("\n" + label), "\(name): summary lacks '\(label)'")
            }
        }
    }
}
