import ArgumentParser
import Foundation
import GenGraph

struct TranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate images between a trained model's domains (cyclegan: a = sneakers, b = ankle boots).",
        discussion: """
        The input is the test split's images of the source domain unless --input gives a .npy file \
        (N x 1 x 28 x 28, float32, in the model's pixel range, [-1, 1] for cyclegan). A .png grid \
        shows each input beside its translation, 8 pairs a row; a .npy file holds the translated \
        images in input order.
        """)

    @Argument(help: "A run directory or a checkpoint written by `gengraph train`.")
    var source: String

    @Option(help: "The source domain: the name of its images input (cyclegan: a or b).")
    var from: String

    @Option(help: "A .npy file of images to translate (default: the test split's images of the source domain).")
    var input: String?

    @Option(help: "Translate only the first N images (default: 32 for a .png grid, all for .npy).")
    var n: Int?

    @Option(help: "Output file: .png (input and translation side by side) or .npy (the translations).")
    var out: String

    @Option(help: "Directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        try requireCount("--n", n, in: 1...RunLimits.images)
        if !(out.hasSuffix(".png") || out.hasSuffix(".npy")) { throw ValidationError("--out must end in .png or .npy, got '\(out)'") }
        if let input, !input.hasSuffix(".npy") { throw ValidationError("--input must be a .npy file, got '\(input)'") }
    }

    func run() throws {
        do {
            let trained = try TrainedModel(source)
            let translator = Translator(definition: trained.definition, parameters: trained.parameters, config: try runOptions.config())
            let translation = try translator.translation(from: from)
            var images = try input.map(readImages) ?? translator.images(of: from, in: try MNISTDataset.split(.test, directory: data))
            if let n, n > images.count / 784 {
                throw CLIError("--n \(n): \(input ?? "the test split") holds only \(images.count / 784) images of domain '\(from)' to translate")
            }
            let count = min(images.count / 784, n ?? (out.hasSuffix(".png") ? 32 : Int.max))
            images = Array(images[..<(count * 784)])
            let start = Date()
            let translated = try translator.translate(images, from: from)
            if out.hasSuffix(".npy") {
                try NPYArray(shape: [count, 1, 28, 28], values: translated).write(to: out)
            } else {
                var pairs: [Float] = []
                for k in 0..<count {
                    let image = (k * 784)..<((k + 1) * 784)
                    pairs += images[image]
                    pairs += translated[image]
                }
                try ImageGrid(range: trained.definition.encoding.range, columns: 2 * min(8, count), scale: 2)
                    .write(pairs, shape: [2 * count, 1, 28, 28], to: out)
            }
            print(String(format: "wrote %d images of %@ translated %@ -> %@ by %@ to %@ in %.2f s", count, trained.definition.name,
                         translation.source, translation.target, translation.function, out, Date().timeIntervalSince(start)))
        } catch {
            throw CLIError(String(describing: error))
        }
    }

    /// The images of an --input file, checked to be whole images in the model's range.
    private func readImages(_ path: String) throws -> [Float] {
        let array = try NPYArray(contentsOf: path)
        guard array.shape.count == 4, array.shape[1] == 1, array.shape[2] == 28, array.shape[3] == 28, array.shape[0] >= 1 else {
            throw GraphError(op: "translate", "'\(path)' holds \(array.shape); expected (N >= 1, 1, 28, 28) images")
        }
        let range = try TrainedModel(source).definition.encoding.range
        if let outside = array.values.first(where: { !$0.isFinite || $0 < range.lowerBound - 1e-3 || $0 > range.upperBound + 1e-3 }) {
            throw GraphError(op: "translate", "'\(path)' has the value \(outside), outside the model's pixel range \(range)")
        }
        return array.values
    }
}
