import ArgumentParser
import GenGraph

extension DumpStage: ExpressibleByArgument {}
extension DumpFormat: ExpressibleByArgument {}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Show what the compiler did to a model's training step, stage by stage.",
        discussion: """
            Stages: graph (forward), grad (forward + gradients as built), optimized (after simplify, CSE, DCE), \
            fused (kernels and why each fusion group ended), plan (kernel steps, arena offsets, summary). \
            docs/compiler.md describes the text format.
            """)

    @Argument(help: "A zoo model name (see `gengraph zoo`) or a path to a .gg file.")
    var model: String

    @Option(name: .customLong("set"), help: "Override a hyper-parameter, e.g. --set latent=32 (repeatable).")
    var assignments: [String] = []

    @Option(help: "Stage to show: \(DumpStage.allCases.map(\.rawValue).joined(separator: "|")).")
    var stage: DumpStage = .plan

    @Option(help: "Output format: text|dot|json.")
    var format: DumpFormat = .text

    @Option(help: "Batch size (default: the model's).")
    var batch: Int?

    @Option(help: "Only this objective (e.g. d_loss); default all.")
    var objective: String?

    func run() throws {
        do {
            let definition = try ModelReference.source(model).definition(overrides: ModelReference.overrides(assignments))
            let instance = try definition.instantiate(batch: batch)
            let objectives = instance.objectives.filter { objective == nil || $0.name == objective }
            if objectives.isEmpty {
                throw CLIError("model '\(model)' has no objective '\(objective ?? "")'; it has \(instance.objectives.map(\.name).joined(separator: ", "))")
            }
            let cache = PlanCache()
            for (k, o) in objectives.enumerated() {
                let gradients = try instance.graph.gradients(of: o.loss, withRespectTo: o.parameters)
                let names = [o.name] + o.parameters.map { "d \(parameterName($0))" }
                // The training step as `train` compiles it: the plan applies the optimiser's updates itself.
                let updates = PlannedUpdates(rule: o.rule, clip: o.clip, gradientOutputs: Array(1..<(1 + gradients.count)),
                                             parameters: o.parameters.map(parameterName))
                let compilation = try cache.compilation(for: Program(instance.graph, outputs: [o.loss] + gradients),
                                                        updates: updates)
                if objectives.count > 1 && format == .text {
                    if k > 0 { print() }
                    print("// objective \(o.name) of \(model), batch \(instance.batchSize)")
                }
                print(Dump(compilation, outputNames: names, forwardOutputs: 1).render(stage, format))
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(String(describing: error))
        }
    }

    private func parameterName(_ t: Tensor) -> String {
        if case .parameter(let name) = t.node.op { return name }
        return "%\(t.id)"
    }
}
