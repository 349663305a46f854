import Foundation
@testable import GenGraph
import XCTest

/// Runs the training loop on a slice of the real data (see `Prerequisites` where Fashion-MNIST is not installed).
final class TrainingRunTests: XCTestCase {
    func temporaryDirectory() throws -> RunDirectory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-run-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return RunDirectory(url.path)
    }

    /// A small run: `steps` steps (nil: as configured) on 512 training and 256 test images, logging every step.
    static func options(steps: Int?) -> TrainingOptions {
        var o = TrainingOptions()
        o.steps = steps
        o.trainLimit = 512
        o.testLimit = 256
        o.sampleCount = 0
        o.logEvery = 1
        return o
    }

    /// Every zoo model trains a few steps on a small slice: losses stay finite and the first objective's falls.
    func testEveryZooModelTrainsAndItsLossFalls() throws {
        _ = try Prerequisites.fashionMNIST()
        for name in DSLZoo.names {
            let source = try XCTUnwrap(DSLZoo.model(named: name))
            let batch = name.hasPrefix("wgan") ? 8 : 16
            let run = try TrainingRun(source: source, overrides: ["batch": "\(batch)"], directory: try temporaryDirectory(),
                                      config: RunConfig(threads: 2, seed: 1, mode: .fused), options: Self.options(steps: 12), resume: false)
            var losses: [Float] = []
            try run.run(events: { event in
                if case .progress(_, _, _, _, let l, _) = event {
                    XCTAssertTrue(l.allSatisfy { $0.value.isFinite }, "\(name): non-finite loss \(l)")
                    losses.append(l[0].value)
                }
            })
            let first = Array(losses.prefix(3))
            let last = Array(losses.suffix(3))
            XCTAssertEqual(losses.count, 12, name)
            XCTAssertLessThan(last.reduce(0, +) / 3, first.reduce(0, +) / 3, "\(name): loss did not fall: \(losses)")
        }
    }

    /// Stopping and resuming gives bit for bit the parameters of an uninterrupted run.
    func testResumeContinuesExactly() throws {
        _ = try Prerequisites.fashionMNIST()
        let source = try XCTUnwrap(DSLZoo.model(named: "vae"))
        let config = RunConfig(threads: 2, seed: 9, mode: .fused)
        let whole = try temporaryDirectory(), split = try temporaryDirectory()
        try TrainingRun(source: source, overrides: ["batch": "32"], directory: whole, config: config,
                        options: Self.options(steps: 20), resume: false).run()
        var stopAfter = 7
        let first = try TrainingRun(source: source, overrides: ["batch": "32"], directory: split, config: config,
                                    options: Self.options(steps: 20), resume: false)
        XCTAssertFalse(try first.run(shouldStop: { stopAfter -= 1; return stopAfter < 0 }))
        XCTAssertEqual(first.step, 7)
        try TrainingRun(source: nil, overrides: [:], directory: split, config: RunConfig(threads: 1), options: TrainingOptions(),
                        resume: true).run()
        let a = try SafeTensors(contentsOf: whole.checkpoint), b = try SafeTensors(contentsOf: split.checkpoint)
        XCTAssertEqual(a.entries.map(\.name), b.entries.map(\.name))
        for (x, y) in zip(a.entries, b.entries) {
            XCTAssertEqual(x.value.scalars.map(\.bitPattern), y.value.scalars.map(\.bitPattern), "\(x.name) differs after resume")
        }
    }

    func testStartingOverAnExistingRunIsAnError() throws {
        _ = try Prerequisites.fashionMNIST()
        let source = try XCTUnwrap(DSLZoo.model(named: "ae"))
        let directory = try temporaryDirectory()
        try TrainingRun(source: source, overrides: ["batch": "16"], directory: directory, config: RunConfig(threads: 1),
                        options: Self.options(steps: 2), resume: false).run()
        XCTAssertThrowsError(try TrainingRun(source: source, overrides: [:], directory: directory, config: RunConfig(threads: 1),
                                             options: Self.options(steps: 2), resume: false)) { error in
            XCTAssertTrue("\(error)".contains("already holds a run"), "\(error)")
        }
        // A checkpoint of another model is refused by name.
        let other = try temporaryDirectory()
        XCTAssertThrowsError(try TrainingRun(source: try XCTUnwrap(DSLZoo.model(named: "vae")), overrides: ["batch": "16"],
                                             directory: other, config: RunConfig(threads: 1), options: Self.options(steps: 1),
                                             resume: false, initFrom: directory.checkpoint.path)) { error in
            XCTAssertTrue("\(error)".contains("ae"), "\(error)")
        }
    }

    /// A classifier whose inputs are `images` and `labels` (declared on lines 3 and 4).
    private func classifier(images: String = "images[batch, 1, 28, 28] unit", labels: String = "labels[batch] of 10",
                            names: (String, String) = ("x", "y"), loss: String? = nil) throws -> ModelSource {
        try ModelSource.parse("""
            model m
            hyper batch = 8
            input \(names.0) : \(images)
            input \(names.1) : \(labels)
            logits = reshape(\(names.0), [batch, -1]) -> dense(10)
            loss = \(loss ?? "cross_entropy(logits, \(names.1))")
            minimize loss with adam(1e-3)
            metric \(loss == nil ? "accuracy = correct(logits, \(names.1))" : "loss")
            """, file: "m.gg")
    }

    /// Inputs the data cannot be fed to are refused when the data meets the model, at their line, before
    /// the run directory is made: not at the first step, without a location, after it.
    func testInputsTheDataCannotFeedAreLocatedBeforeTheRunStarts() throws {
        _ = try Prerequisites.fashionMNIST()
        let cases: [(ModelSource, String)] = [
            (try classifier(images: "images[batch, 1, 14, 56] unit"),
             "m.gg:3:1: input: images input 'x' is declared [8,1,14,56], but images are fed as [8,1,28,28]: declare it images[batch, 1, 28, 28]"),
            (try classifier(images: "images[batch, 784] unit"), "m.gg:3:1: input: images input 'x' is declared [8,784], but"),
            (try classifier(images: "images[batch, 2, 28, 28] unit"), "m.gg:3:1: input: images input 'x' is declared [8,2,28,28], but"),
            (try classifier(labels: "labels[batch, 2] of 10", loss: "mean(logits) + mean(y)"),
             "m.gg:4:1: input: labels input 'y' is declared [8,2], but labels are fed one per image, [8]: declare it labels[batch]"),
            (try classifier(labels: "labels[batch] of 5"), "m.gg:4:1: input: labels input 'y' has 5 classes ('of 5'), but the training split has the label"),
        ]
        for (source, expected) in cases {
            let directory = try temporaryDirectory()
            XCTAssertThrowsError(try TrainingRun(source: source, overrides: [:], directory: directory, config: RunConfig(threads: 1),
                                                 options: Self.options(steps: 1), resume: false)) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory.url.path), expected)
        }
        // Evaluation checks the split it is given too (`eval --data`).
        let five = try classifier(labels: "labels[batch] of 5").definition()
        let test = try MNISTDataset.split(.test, directory: try Prerequisites.fashionMNIST(), limit: 64)
        XCTAssertThrowsError(try Evaluator(definition: five, parameters: ParameterStore(), config: RunConfig(threads: 1)).evaluate(test, batch: 32)) {
            XCTAssertTrue("\($0)".hasPrefix("m.gg:4:1: input: labels input 'y' has 5 classes ('of 5'), but the split has the label"), "\($0)")
        }
        // 14 x 56 images hold 784 pixels too: they are refused, not fed as 28 x 28 ones.
        let directory = try temporaryDirectory().url
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func idx(_ shape: [Int], _ values: [UInt8]) -> Data {
            Data([0, 0, 0x08, UInt8(shape.count)] + shape.flatMap { e in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: e >> $0) } } + values)
        }
        let images = directory.appendingPathComponent("images"), labels = directory.appendingPathComponent("labels")
        try idx([8, 14, 56], [UInt8](repeating: 0, count: 8 * 784)).write(to: images)
        try idx([8], [UInt8](repeating: 0, count: 8)).write(to: labels)
        let wide = try MNISTSplit(imagesPath: images.path, labelsPath: labels.path)
        XCTAssertThrowsError(try classifier().definition().instantiate().checkFeeds(wide, classes: 10, "the training split")) {
            XCTAssertEqual("\($0)", "data: the training split holds 14 x 56 images; models are fed 28 x 28 ones")
        }
    }

    /// Inputs are fed by the names the model gives them, in training and evaluation, not as x and y.
    func testInputsOfAnyNameAreFed() throws {
        let data = try Prerequisites.fashionMNIST()
        let run = try TrainingRun(source: try classifier(names: ("img", "lab")), overrides: [:], directory: try temporaryDirectory(),
                                  config: RunConfig(threads: 1), options: Self.options(steps: 2), resume: false)
        XCTAssertTrue(try run.run())
        let trained = try TrainedModel(run.directory.url.path)
        let test = try MNISTDataset.split(.test, directory: data, limit: 64)
        let metrics = try Evaluator(definition: trained.definition, parameters: trained.parameters, config: RunConfig(threads: 1))
            .evaluate(test, batch: 32)
        XCTAssertEqual(metrics.map(\.name), ["accuracy"])
    }
}

final class RunningStatisticsTests: XCTestCase {
    /// Training updates batch norm's running statistics (PyTorch's momentum 0.1, unbiased variance), once per step.
    func testTrainingUpdatesRunningStatistics() throws {
        let g = Graph()
        let x = try g.input("x", [4, 3])
        let loss = try x.batchNorm(name: "bn", training: true).square().mean()
        let session = try Session(graph: g, config: RunConfig(threads: 1, mode: .fused))
        let step = try session.minimize(loss, using: .sgd(learningRate: 0.1))
        let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        try session.train(step, feeds: ["x": TensorValue(shape: [4, 3], scalars: values)])
        let mean = try XCTUnwrap(session.parameters.value("bn.running_mean")).scalars
        let variance = try XCTUnwrap(session.parameters.value("bn.running_var")).scalars
        // Column means 5.5, 6.5, 7.5; unbiased variance 15 (values 3 apart in 4 rows).
        for (m, expected) in zip(mean, [Float(0.55), 0.65, 0.75]) { XCTAssertEqual(m, expected, accuracy: 1e-5) }
        for v in variance { XCTAssertEqual(v, 0.9 + 0.1 * 15, accuracy: 1e-4) }
    }
}
