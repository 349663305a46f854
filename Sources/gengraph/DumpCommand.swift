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
            docs/compiler.md describes the text format. --format html --out FILE writes one self-contained page \
            of the plan (kernel graph, kernel table, roofline, fusion boundaries, source); --profile adds measured times.
            """)

    @Argument(help: "A zoo model name (see `gengraph zoo`) or a path to a .gg file.")
    var model: String

    @Option(name: .customLong("set"), help: "Override a hyper-parameter, e.g. --set latent=32 (repeatable).")
    var assignments: [String] = []

    @Option(help: "Stage to show: \(DumpStage.allCases.map(\.rawValue).joined(separator: "|")).")
    var stage: DumpStage = .plan

    @Option(help: "Output format: text|dot|json|html (html: the plan as a page; needs --out).")
    var format: DumpOutputFormat = .text

    @Option(help: "Batch size (default: the model's).")
    var batch: Int?

    @Option(help: "Only this objective (e.g. d_loss); default all.")
    var objective: String?

    @Option(help: "Show the step as one of N data-parallel ranks compiles it (batch / N images, gradient all-reduce buckets).")
    var ranks: Int = 1

    @Flag(help: "With --ranks: batch norm's statistics all-reduced across ranks (train --sync-batchnorm).")
    var syncBatchnorm = false

    @OptionGroup var fusion: CompilerOptions

    @OptionGroup var diff: DumpDiffOptions

    @Option(help: "With --format html: the page's file.")
    var out: String?

    @Flag(help: "With --format html: time every kernel on the model's default data and place it on the measured roofline.")
    var profile = false

    @Option(help: "With --profile: timed steps.")
    var steps: Int = 10

    @Option(help: "With --profile: untimed warm-up steps.")
    var warmup: Int = 3

    @Option(help: "With --profile: directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @OptionGroup var runOptions: SharedRunOptions

    func validate() throws {
        try requireCount("--ranks", ranks, in: 1...RunLimits.ranks)
        try requireCount("--steps", steps, in: 1...RunLimits.steps)
        try requireCount("--warmup", warmup, in: 0...RunLimits.steps)
        if format != .html && (profile || out != nil) {
            throw ValidationError("\(profile ? "--profile" : "--out") is for the page: add --format html (the other formats print to stdout)")
        }
        if format == .html && out == nil { throw ValidationError("--format html writes one file: give --out PLAN.html") }
        if profile && ranks > 1 { throw ValidationError("--profile times one process's step: drop --ranks (bench a data-parallel job under mpirun)") }
    }

    func run() throws {
        if diff.requested && (format == .json || format == .dot) {
            throw CLIError("--diff prints the two plans' differences as text (or into the page with --format html); --format \(format) does not apply")
        }
        if diff.requested && format != .html { return try runDiff() }
        do {
            let source = try ModelReference.source(model)
            let definition = try source.definition(overrides: ModelReference.overrides(assignments))
            let global = batch ?? definition.defaultBatch
            guard global % ranks == 0 else { throw CLIError("the batch of \(global) images does not split evenly over \(ranks) ranks") }
            let instance = try definition.instantiate(batch: global / ranks, batchStatisticsReplicas: syncBatchnorm ? ranks : 1)
            let objectives = instance.objectives.filter { objective == nil || $0.name == objective }
            if objectives.isEmpty {
                throw CLIError("model '\(model)' has no objective '\(objective ?? "")'; it has \(instance.objectives.map(\.name).joined(separator: ", "))")
            }
            // The training steps exactly as `train --mode fused` compiles them: loss, gradients consumed by
            // the plan's own optimiser updates, and batch norm's new running statistics.
            var config = try runOptions.config()
            config.mode = .fused
            config.replicas = ranks
            config.fusionOff = try fusion.kinds()
            config.memoryLimitBytes = try fusion.memoryLimitBytes()
            let trainer = try Trainer(model: instance, config: config)
            let steps = Dictionary(zip(instance.objectives.map(\.name), trainer.trainingSteps), uniquingKeysWith: { a, _ in a })
            guard let format = format.library else {
                return try writePage(trainer, objectives: objectives.map { ($0.name, steps[$0.name]!) }, source: source,
                                     comparisons: diff.requested ? try comparisons() : [:])
            }
            var rendered: [String] = []
            for o in objectives {
                let step = steps[o.name]!
                let compilation = try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates)
                rendered.append(Dump(compilation, outputNames: step.outputNames(loss: o.name), forwardOutputs: 1).render(stage, format))
            }
            switch (format, objectives.count) {
            case (_, 1): print(rendered[0])
            case (.json, _):
                // One JSON value for the whole output, each objective's dump under its name.
                let members = zip(objectives, rendered).map { "\"\($0.name)\": \($1)" }.joined(separator: ",\n")
                print("{\"objectives\": {\n" + members + "\n}}")
            default:
                for (k, (o, text)) in zip(objectives, rendered).enumerated() {
                    if k > 0 { print() }
                    print("// objective \(o.name) of \(model), batch \(instance.batchSize)")
                    print(text)
                }
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}
