@testable import GenGraph
import Foundation
import XCTest

/// `gengraph dump` on every zoo model: every stage in every format renders, the
/// JSON parses, and the plan text keeps the layout docs/compiler.md documents.
final class DumpTests: XCTestCase {
    private func dumps(_ name: String) throws -> [Dump] {
        let instance = try XCTUnwrap(Zoo.model(named: name)).instantiate(batch: 4)
        let cache = PlanCache()
        return try instance.objectives.map { o in
            let gradients = try instance.graph.gradients(of: o.loss, withRespectTo: o.parameters)
            let compilation = try cache.compilation(for: Program(instance.graph, outputs: [o.loss] + gradients))
            return Dump(compilation, outputNames: [o.name] + o.parameters.map { "d %\($0.id)" }, forwardOutputs: 1)
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

    /// Step lines: `step K  KERNEL  group G  ...`, the group column where every line has it
    /// (kernel names of any length), then the summary.
    func testPlanTextColumnsAndSummary() throws {
        for name in ["vae", "dcgan", "pixelcnn"] {
            let text = try XCTUnwrap(dumps(name).first).render(.plan, .text)
            let steps = text.split(separator: "\n").filter { $0.hasPrefix("step ") }
            XCTAssertFalse(steps.isEmpty, name)
            var columns = Set<Int>()
            for line in steps {
                guard let r = line.range(of: "  group ") ?? line.range(of: "  copy ") else {
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
