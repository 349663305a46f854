import ArgumentParser
import Foundation
import GenGraph

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a 784-256-10 MLP on Fashion-MNIST through the Swift API and report test accuracy.")

    @Option(help: "Directory holding the four MNIST-format IDX files.")
    var data: String = MNISTDataset.defaultDirectory

    @Option(help: "Training images to use.")
    var train: Int = 2000

    @Option(help: "Test images to score.")
    var test: Int = 1000

    @Option(help: "Epochs over the training images.")
    var epochs: Int = 10

    @Option(help: "Batch size.")
    var batch: Int = 50

    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        try requireCount("--train", train, in: 1...Int.max)
        try requireCount("--test", test, in: 1...Int.max)
        try requireCount("--epochs", epochs, in: 1...RunLimits.epochs)
        try requireCount("--batch", batch, in: 1...Shape.maxElements)
    }

    func run() throws {
        var options = MLPClassifierExample.Options()
        options.trainCount = train
        options.testCount = test
        options.epochs = epochs
        options.batchSize = batch
        options.seed = runOptions.seed
        let config = try runOptions.config()
        print("training a 784-256-10 MLP on up to \(train) images from \(data) (\(config.mode), \(config.threads) threads)")
        do {
            let result = try MLPClassifierExample.run(dataDirectory: data, options: options, config: config) { epoch, loss in
                print(String(format: "epoch %2d  loss %.4f", epoch + 1, loss))
            }
            print(String(format: "test accuracy %.1f%% on %d images after training on %d; %.2f s training, %.0f steps/s",
                         result.testAccuracy * 100, result.testCount, result.trainCount, result.seconds, result.stepsPerSecond))
        } catch {
            throw CLIError(String(describing: error))
        }
    }
}

/// An error printed as one line with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
