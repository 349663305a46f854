import ArgumentParser
import GenGraph

/// `gengraph dump A --diff B`: the options that name plan B.
struct DumpDiffOptions: ParsableArguments {
    @Option(name: .customLong("diff"), help: "Compare with another model's plan (zoo name or .gg file): as text, whatever --stage says, or in the page with --format html.")
    var model: String?

    @Option(name: .customLong("diff-set"), help: "Compare with the plan under this hyper-parameter, e.g. latent=64 (repeatable).")
    var assignments: [String] = []

    @Option(name: .customLong("diff-fusion-off"), parsing: .singleValue,
            help: "Compare with the plan with these fusion kinds off as well (repeatable or comma-separated).")
    var fusionOff: [String] = []

    var requested: Bool { model != nil || !assignments.isEmpty || !fusionOff.isEmpty }

    func kinds() throws -> Set<FusionKind> { try fusionKinds(fusionOff, flag: "--diff-fusion-off") }

    func validate() throws { _ = try kinds() }
}

extension DumpCommand {
    /// One side of a diff: a model reference, its --set values and the fusion kinds off.
    struct PlanSource: CustomStringConvertible {
        let model: String
        let assignments: [String]
        let fusionOff: Set<FusionKind>

        var description: String {
            ([model] + assignments.map { "--set \($0)" } + (fusionOff.isEmpty ? [] : ["--fusion-off \(FusionKind.describe(fusionOff))"]))
                .joined(separator: " ")
        }
    }

    /// A as the command names it, and B: A changed by the --diff options (another model drops A's
    /// --set values, --diff-set overrides them, --diff-fusion-off adds to A's kinds off).
    private func sources() throws -> (a: PlanSource, b: PlanSource) {
        let a = PlanSource(model: model, assignments: assignments, fusionOff: try fusion.kinds())
        let b = PlanSource(model: diff.model ?? model, assignments: (diff.model == nil ? assignments : []) + diff.assignments,
                           fusionOff: a.fusionOff.union(try diff.kinds()))
        return (a, b)
    }

    /// Each objective of A with its counterpart in B: by name, else by position.
    private func pairs(_ plansA: [(String, Plan)], _ plansB: [(String, Plan)]) -> [(name: String, nameB: String, a: Plan, b: Plan)] {
        plansA.enumerated().compactMap { k, entry in
            let (name, planA) = entry
            guard let (nameB, planB) = plansB.first(where: { $0.0 == name }) ?? (k < plansB.count ? plansB[k] : nil) else { return nil }
            return (name, nameB, planA, planB)
        }
    }

    /// Prints the diff of each objective's plan, A against B.
    func runDiff() throws {
        let (a, b) = try sources()
        for (k, pair) in pairs(try plans(a), try plans(b)).enumerated() {
            if k > 0 { print() }
            let objective = pair.name == pair.nameB ? pair.name : "\(pair.name) vs \(pair.nameB)"
            print(PlanDiff(pair.a, pair.b).text(a: "\(a) (\(objective))", b: "\(b)"))
        }
    }

    /// The page's comparisons (`--format html` with --diff options), by A's objective name.
    func comparisons() throws -> [String: PlanPage.Comparison] {
        let (a, b) = try sources()
        return Dictionary(pairs(try plans(a), try plans(b)).map { pair in
            (pair.name, PlanPage.Comparison(against: pair.name == pair.nameB ? "\(b)" : "\(b) (\(pair.nameB))", diff: PlanDiff(pair.a, pair.b)))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// Each selected objective's training-step plan, compiled as `train --mode fused` compiles it.
    private func plans(_ source: PlanSource) throws -> [(String, Plan)] {
        do {
            let definition = try ModelReference.source(source.model).definition(overrides: ModelReference.overrides(source.assignments))
            let global = batch ?? definition.defaultBatch
            guard global % ranks == 0 else { throw CLIError("the batch of \(global) images does not split evenly over \(ranks) ranks") }
            let instance = try definition.instantiate(batch: global / ranks, batchStatisticsReplicas: syncBatchnorm ? ranks : 1)
            var config = RunConfig(threads: 1, mode: .fused)
            config.replicas = ranks
            config.fusionOff = source.fusionOff
            config.memoryLimitBytes = try fusion.memoryLimitBytes()
            let trainer = try Trainer(model: instance, config: config)
            let selected = zip(instance.objectives, trainer.trainingSteps).filter { objective == nil || $0.0.name == objective }
            if selected.isEmpty {
                throw CLIError("model '\(source.model)' has no objective '\(objective ?? "")'; it has \(instance.objectives.map(\.name).joined(separator: ", "))")
            }
            return try selected.map { o, step in (o.name, try trainer.session.compilation(for: step.outputs, updates: step.plannedUpdates).plan) }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}
