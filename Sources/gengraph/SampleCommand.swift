import ArgumentParser
import Foundation
import GenGraph

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw images from a trained model: a PNG grid for people or .npy (float32, N x 1 x 28 x 28) for tools.")

    @Argument(help: "A run directory or a checkpoint written by `gengraph train`.")
    var source: String

    @Option(help: "How many images.")
    var n: Int = 64

    @Option(help: "Output file: .png (grid) or .npy.")
    var out: String = "samples.png"

    @Option(help: "Class label for conditional models (default: 0..9 cycling).")
    var label: Int?

    @Option(help: ArgumentHelp("Models that take one (realnvp): scale the latent noise by T, finite and >= 0 (default 1).", valueName: "T"))
    var temperature: Float?

    enum DiffusionSamplerKind: String, ExpressibleByArgument, CaseIterable {
        case ddim, ddpm
    }

    @Option(help: "Diffusion models (ddpm): DDIM with eta 0 over --steps, or ancestral DDPM over every noise level.")
    var sampler: DiffusionSamplerKind?

    @Option(help: "Diffusion models: DDIM steps (default 50; at most the model's noise levels).")
    var steps: Int?

    @Flag(help: "PixelCNN: every pixel on the full canvas with one compiled plan (default: only the rows filled so far, one plan per height, about half the work).")
    var fullCanvas = false

    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        try requireCount("--n", n, in: 1...RunLimits.images)
        if !(out.hasSuffix(".png") || out.hasSuffix(".npy")) { throw ValidationError("--out must end in .png or .npy, got '\(out)'") }
        if let steps {
            try requireCount("--steps", steps, in: 1...DiffusionSchedule.maximumSteps)
            if sampler == .ddpm { throw ValidationError("--steps applies to --sampler ddim; ddpm runs every noise level") }
        }
        if let temperature, !(temperature.isFinite && temperature >= 0) {
            throw ValidationError("--temperature must be a finite number >= 0, got \(temperature)")
        }
    }

    func run() throws {
        do {
            let trained = try TrainedModel(source)
            let config = try runOptions.config()
            let labels = label.map { [Int](repeating: $0, count: n) }
            let start = Date()
            var generator = Sampler(definition: trained.definition, parameters: trained.parameters, config: config)
            generator.fullCanvas = fullCanvas
            if sampler != nil || steps != nil {
                generator.diffusion = sampler == .ddpm ? .ddpm : .ddim(steps: steps ?? DiffusionSampling.standardSteps)
            }
            let images = try generator.sample(count: n, labels: labels, temperature: temperature)
            if out.hasSuffix(".npy") {
                try NPYArray(shape: images.shape.dims, values: images.scalars).write(to: out)
            } else {
                try ImageGrid(range: trained.definition.encoding.range, scale: 2).write(images.scalars, shape: images.shape.dims, to: out)
            }
            print(String(format: "wrote %d samples of %@ to %@ in %.2f s", n, trained.definition.name, out, Date().timeIntervalSince(start)))
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}
