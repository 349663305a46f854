import ArgumentParser
import Foundation
import GenGraph

/// What `dump --format` takes: the library's text formats, or the HTML page.
enum DumpOutputFormat: String, CaseIterable, ExpressibleByArgument {
    case text, dot, json, html

    var library: DumpFormat? { DumpFormat(rawValue: rawValue) }
}

extension DumpCommand {
    /// `--format html`: the page of every selected objective's plan, written to `--out`; with
    /// `--profile`, each kernel timed on the model's default data first.
    func writePage(_ trainer: Trainer, objectives: [(name: String, step: TrainingStep)], source: ModelSource,
                   comparisons: [String: PlanPage.Comparison]) throws {
        guard let out else { throw CLIError("--format html writes one file: give --out PLAN.html") }
        try PlanPage.checkDirectory(of: out)
        let config = trainer.session.config
        var seconds: [String: [Double]] = [:]
        if profile {
            let dataset = try MNISTDataset(directory: data)
            var batches = try trainer.model.batches(of: dataset.train, shuffle: true, seed: config.seed)
            var epoch = 0
            let medians = try PlanProfiler.medianSeconds(trainer, warmup: warmup, steps: steps) {
                if let b = batches.next() { return b }
                epoch += 1
                batches.start(epoch: epoch)
                guard let b = batches.next() else { throw CLIError("dump --profile: the data has fewer images than one batch") }
                return b
            }
            seconds = Dictionary(zip(trainer.model.objectives.map(\.name), medians), uniquingKeysWith: { a, _ in a })
        }
        let page = PlanPage(
            title: "\(source.name): compiled training step",
            subtitle: "\(model), batch \(trainer.model.batchSize)" + (ranks > 1 ? " per rank of \(ranks)" : "")
                + (profile ? ", profiled on \(config.threads) thread\(config.threads == 1 ? "" : "s") (median of \(steps) steps after \(warmup) warm-up)" : ""),
            source: source,
            objectives: try objectives.map { o in
                PlanPage.Objective(name: o.name, compilation: try trainer.session.compilation(for: o.step.outputs, updates: o.step.plannedUpdates),
                                   gradientOutputs: o.step.plannedUpdates.gradientOutputs, seconds: seconds[o.name],
                                   comparison: comparisons[o.name])
            },
            roofline: Self.roofline(threads: config.threads))
        for note in page.notes { FileHandle.standardError.write(Data("warning: \(note); the page has no kernel graph\n".utf8)) }
        try page.write(to: out)
        print("wrote \(out): \(page.kernels.map(\.count).reduce(0, +)) kernels in \(objectives.count) objective\(objectives.count == 1 ? "" : "s")")
    }

    /// This machine's roof on `threads` threads: the kept figures (`info --roofline`), measured and kept now when there are none.
    private static func roofline(threads: Int) -> Roofline.Point? {
        if let point = Roofline.cached()?.point(threads: threads) { return point }
        let measured = Roofline.measure(maxThreads: threads, rounds: 3)
        try? measured.save()
        return measured.point(threads: threads)
    }
}
