import ArgumentParser
import Foundation
import GenGraph

struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Score generated images with a trained classifier: FD-FMNIST (Fréchet distance in its feature space) and, for conditional models, the accuracy of the requested classes.",
        discussion: """
        SOURCE is a run directory or checkpoint of a generative model (N images are sampled from it) \
        or a .npy file of images (N x 1 x 28 x 28, float32, from `gengraph sample` or another tool; \
        say their pixel range with --range). The distance is to the test split's features; the \
        distance of N real training images is printed beside it as the floor to compare with.
        """)

    @Argument(help: "A run directory or checkpoint of a generative model, or a .npy file of images.")
    var source: String

    @Option(help: "A run directory or checkpoint of a trained `classifier` (the judge).")
    var classifier: String

    @Option(help: "How many images to sample from a model (a .npy file gives its own).")
    var n: Int = 10_000

    @Option(help: "Pixel range of a .npy file's images: unit ([0, 1]) or signed ([-1, 1]).")
    var range: PixelRange?

    @Option(help: "Directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @Option(help: "Compare with only the first N test images (default: all).")
    var limit: Int?

    @OptionGroup var runOptions: RunOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    enum PixelRange: String, ExpressibleByArgument, CaseIterable {
        case unit, signed
        var interval: ClosedRange<Float> { self == .unit ? 0...1 : -1...1 }
    }

    func validate() throws {
        // A covariance needs two images.
        try requireCount("--limit", limit, in: 2...Int.max)
        try requireCount("--n", n, in: 2...RunLimits.images)
        if source.hasSuffix(".npy") && range == nil {
            throw ValidationError("say the pixel range of '\(source)' with --range unit or --range signed")
        }
        if !source.hasSuffix(".npy") && range != nil {
            throw ValidationError("--range applies to .npy files; a model's samples come in its own range")
        }
    }

    func run() throws {
        do {
            let config = try runOptions.config()
            let judgeModel = try TrainedModel(classifier)
            let judge = try Judge(definition: judgeModel.definition, parameters: judgeModel.parameters, config: config)
            let start = Date()

            let (images, imageRange, labels, name) = try generated(config)
            let count = images.count / 784
            let samples = try judge.featuresAndClasses(images, range: imageRange)
            let test = try judge.statistics(of: try MNISTDataset.split(.test, directory: data, limit: limit))
            let train = try judge.statistics(of: try MNISTDataset.split(.train, directory: data, limit: count))
            let fd = try frechetDistance(try FeatureStatistics(features: samples.features, dimension: samples.dimension), test)
            let floor = try frechetDistance(train, test)
            let classes = samples.classes
            var histogram = [Int](repeating: 0, count: judgeModel.definition.classes)
            for c in classes where histogram.indices.contains(c) { histogram[c] += 1 }
            let accuracy = labels.map { wanted in Double(zip(classes, wanted).filter { $0 == $1 }.count) / Double(count) }

            if json {
                var object: [String: Any] = ["source": name, "images": count, "fd_fmnist": jsonNumber(fd), "fd_fmnist_real_train": jsonNumber(floor),
                                             "class_histogram": histogram, "seconds": Date().timeIntervalSince(start)]
                if let accuracy { object["class_accuracy"] = jsonNumber(accuracy) }
                let encoded = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: encoded, as: UTF8.self))
            } else {
                print("\(name): \(count) images judged by \(classifier)")
                print(String(format: "  fd_fmnist            %.3f", fd))
                print(String(format: "  fd_fmnist_real_train %.3f  (%d real training images: the floor)", floor, count))
                if let accuracy { print(String(format: "  class_accuracy       %.4f  (classifier agrees with the requested label)", accuracy)) }
                print("  classes              " + histogram.map(String.init).joined(separator: " "))
            }
        } catch {
            throw CLIError(String(describing: error))
        }
    }

    /// The images to judge, their pixel range, the labels they were drawn for (conditional models) and a name.
    private func generated(_ config: RunConfig) throws -> ([Float], ClosedRange<Float>, [Int]?, String) {
        if source.hasSuffix(".npy") {
            let array = try NPYArray(contentsOf: source)
            guard array.shape.count == 4, array.shape[1] == 1, array.shape[2] == 28, array.shape[3] == 28, array.shape[0] >= 2 else {
                throw GraphError(op: "judge", "'\(source)' holds \(array.shape); expected (N >= 2, 1, 28, 28) images")
            }
            let interval = range!.interval
            if let outside = array.values.first(where: { !$0.isFinite || $0 < interval.lowerBound - 1e-3 || $0 > interval.upperBound + 1e-3 }) {
                throw GraphError(op: "judge", "'\(source)' has the value \(outside), outside --range \(range!.rawValue) \(interval)")
            }
            return (array.values, interval, nil, source)
        }
        let model = try TrainedModel(source)
        let conditional = model.definition.classes > 0
        let labels = conditional ? (0..<n).map { $0 % model.definition.classes } : nil
        // Samples in chunks, each with its own noise (a chunk's seed), so memory stays small.
        let chunk = 500
        try HostMemory.require(floats: n, times: 2 * 784, for: "judging \(n) samples")  // the images and their copy into the classifier's batches
        var images: [Float] = []
        for (k, first) in stride(from: 0, to: n, by: chunk).enumerated() {
            var chunkConfig = config
            chunkConfig.seed = config.seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15
            let count = min(chunk, n - first)
            let sampler = Sampler(definition: model.definition, parameters: model.parameters, config: chunkConfig)
            images += try sampler.sample(count: count, labels: labels.map { Array($0[first..<(first + count)]) }).scalars
        }
        return (images, model.definition.encoding.range, labels, "\(model.definition.name) (\(source), step \(model.metadata.step))")
    }
}
