import ArgumentParser
import Foundation
import GenGraph

/// Options shared by `traverse` and `interpolate`.
struct LatentOptions: ParsableArguments {
    @Argument(help: "A run directory or a checkpoint of a VAE-family model.")
    var source: String

    @Option(help: "Directory holding the four MNIST-format IDX files (test images give the codes).")
    var data: String = MNISTDataset.defaultDirectory

    @OptionGroup var runOptions: RunOptions

    func explorer() throws -> (LatentExplorer, MNISTSplit) {
        let trained = try TrainedModel(source)
        let explorer = try LatentExplorer(definition: trained.definition, parameters: trained.parameters, config: try runOptions.config())
        return (explorer, try MNISTDataset.split(.test, directory: data))
    }

    /// `--label` picks a class of a conditional model (`LatentExplorer` checks its range); any other model has none to pick.
    func checkLabel(_ label: Int?, _ explorer: LatentExplorer) throws {
        if label != nil && explorer.definition.classes == 0 {
            throw CLIError("model '\(explorer.definition.name)' is not conditional; --label does not apply")
        }
    }

    /// Test image `index` in the model's pixel range, with its label.
    func image(_ split: MNISTSplit, _ index: Int, encoding: PixelEncoding) throws -> ([Float], Int) {
        guard (0..<split.count).contains(index) else { throw CLIError("image index \(index) is not in 0..<\(split.count)") }
        let pixels = split.pixelsPerImage
        let all = split.images(encoding)
        return (Array(all[(index * pixels)..<((index + 1) * pixels)]), Int(split.labels[index]))
    }
}

struct TraverseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traverse",
        abstract: "Latent traversal (VAE family): one row per latent dimension, varied with the others fixed.")

    @OptionGroup var latent: LatentOptions

    @Option(help: "Test image whose code is the centre (default: the zero code).")
    var image: Int?

    @Option(help: "Images per row.")
    var steps: Int = 9

    @Option(help: "Each dimension goes from -range to +range.")
    var range: Float = 3

    @Option(help: "Class label for conditional models (default: the image's, else 0).")
    var label: Int?

    @Option(help: "Output PNG.")
    var out: String = "traverse.png"

    func validate() throws {
        try requireCount("--steps", steps, in: 2...RunLimits.pathSteps)
        try requirePNG(out)
        if !(range > 0 && range.isFinite) { throw ValidationError("--range must be a finite number > 0, got \(range)") }
    }

    func run() throws {
        do {
            let (explorer, test) = try latent.explorer()
            try latent.checkLabel(label, explorer)
            var code: [Float]
            var chosenLabel = label ?? 0
            if let image {
                let (pixels, imageLabel) = try latent.image(test, image, encoding: explorer.definition.encoding)
                chosenLabel = label ?? imageLabel
                code = try explorer.encode(pixels, labels: [chosenLabel]).codes
            } else {
                let dims = try explorer.encode([Float](repeating: 0, count: 784), labels: [chosenLabel]).latent
                code = [Float](repeating: 0, count: dims)
            }
            let images = try explorer.traversal(code: code, label: chosenLabel, steps: steps, range: range)
            try ImageGrid(range: 0...1, columns: steps, scale: 2).write(images.scalars, shape: images.shape.dims, to: out)
            print("wrote \(code.count) rows x \(steps) images to \(out)")
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}

struct InterpolateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpolate",
        abstract: "Decode the straight line between two test images' codes (VAE family).")

    @OptionGroup var latent: LatentOptions

    @Option(help: "First test image index.")
    var from: Int = 0

    @Option(help: "Second test image index.")
    var to: Int = 1

    @Option(help: "Images along the line.")
    var steps: Int = 10

    @Option(help: "Class label for conditional models (default: the first image's).")
    var label: Int?

    @Option(help: "Output PNG.")
    var out: String = "interpolate.png"

    func validate() throws {
        try requireCount("--steps", steps, in: 2...RunLimits.pathSteps)
        try requirePNG(out)
    }

    func run() throws {
        do {
            let (explorer, test) = try latent.explorer()
            try latent.checkLabel(label, explorer)
            let (a, labelA) = try latent.image(test, from, encoding: explorer.definition.encoding)
            let (b, labelB) = try latent.image(test, to, encoding: explorer.definition.encoding)
            let codeA = try explorer.encode(a, labels: [label ?? labelA]).codes
            let codeB = try explorer.encode(b, labels: [label ?? labelB]).codes
            let images = try explorer.interpolation(from: codeA, to: codeB, label: label ?? labelA, steps: steps)
            try ImageGrid(range: 0...1, columns: steps, scale: 2).write(images.scalars, shape: images.shape.dims, to: out)
            print("wrote \(steps) images from test image \(from) to \(to) into \(out)")
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}

/// The grid is a PNG: another name would hold PNG bytes under a name that says otherwise.
func requirePNG(_ out: String) throws {
    if !out.hasSuffix(".png") { throw ValidationError("--out must end in .png (the grid is a PNG image), got '\(out)'") }
}
