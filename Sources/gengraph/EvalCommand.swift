import ArgumentParser
import Foundation
import GenGraph

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "A trained model's test metrics (docs/zoo.md): negative ELBO, NLL, bits per dimension, test loss or accuracy; cycle L1, and with --classifier target-class rates and FD-FMNIST, for translations.")

    @Argument(help: "A run directory or a checkpoint written by `gengraph train`.")
    var source: String

    @Option(help: "Directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @Option(help: "Also the importance-weighted estimate of -log p(x) with K samples (VAE family).")
    var iw: Int?

    @Option(name: .customLong("dequant"), help: ArgumentHelp("Evaluate every test image K times, each with fresh noise (a flow's dequantisation), and average (default 1).", valueName: "K"))
    var draws: Int?

    @Option(help: "Use only the first N test images.")
    var limit: Int?

    @Option(help: "A trained `classifier` run (the judge): also score a translating model's translations (cyclegan).")
    var classifier: String?

    @OptionGroup var runOptions: RunOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        try requireCount("--iw", iw, in: 1...RunLimits.importanceSamples)
        try requireCount("--dequant", draws, in: 1...RunLimits.evaluationDraws)
        try requireCount("--limit", limit, in: 1...Int.max)
    }

    func run() throws {
        do {
            let trained = try TrainedModel(source)
            let config = try runOptions.config()
            let test = try MNISTDataset.split(.test, directory: data, limit: limit)
            let evaluator = Evaluator(definition: trained.definition, parameters: trained.parameters, config: config)
            var results = try evaluator.evaluate(test, draws: draws ?? 1).map { ("test_" + $0.name, $0.value) }
            if let iw { results.append(("test_neg_log_px_iw\(iw)", try evaluator.importanceWeightedNLL(test, samples: iw))) }
            if let classifier {
                guard !trained.definition.translations.isEmpty else {
                    throw GraphError(op: "eval", "--classifier scores translations, and model '\(trained.definition.name)' translates nothing")
                }
                let judgeModel = try TrainedModel(classifier)
                let judge = try Judge(definition: judgeModel.definition, parameters: judgeModel.parameters, config: config)
                let translator = Translator(definition: trained.definition, parameters: trained.parameters, config: config)
                results += try translator.judged(by: judge, on: test).map { ("test_" + $0.name, $0.value) }
            }
            if json {
                var object: [String: Any] = ["model": trained.definition.name, "step": trained.metadata.step, "test_images": test.count]
                if let draws { object["dequant"] = draws }
                for (name, value) in results { object[name] = jsonNumber(value) }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(trained.definition.name) after \(trained.metadata.step) steps, \(test.count) test images:")
                for (name, value) in results { print(String(format: "  %@ %.4f", name, value)) }
            }
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}

/// A metric for JSON output: JSON has no NaN or infinity, so a non-finite value is null
/// (the text output prints it as nan or inf).
func jsonNumber(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
