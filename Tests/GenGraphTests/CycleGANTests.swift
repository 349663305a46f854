import Foundation
@testable import GenGraph
import XCTest

/// cyclegan (docs/zoo.md): its history pools, unpaired domain batches, tensor names, resuming
/// with pools, and the DSL constructs it uses misused.
final class CycleGANTests: XCTestCase {
    private let definition = try! XCTUnwrap(DSLZoo.definition(named: "cyclegan"))

    /// Images of `size` values all equal to `value`, so a drawn image says which one it was.
    private func images(_ values: [Float], size: Int = 3) -> [Float] { values.flatMap { [Float](repeating: $0, count: size) } }

    func testAPoolUsesNewImagesUntilFullThenSwapsAboutHalfOfThem() throws {
        var pool = HistoryPool(capacity: 4, imageSize: 3, seed: 1, index: 0)
        XCTAssertEqual(pool.draw(images([1, 2, 3])), images([1, 2, 3]))
        XCTAssertEqual(pool.draw(images([4])), images([4]))
        XCTAssertEqual(pool.count, 4)
        var swapped = 0, drawn = 0
        var held = Set([1, 2, 3, 4] as [Float])
        for step in 0..<200 {
            let new = Float(100 + step)
            let used = pool.draw(images([new]))[0]
            drawn += 1
            if used != new {
                // A swap hands out a stored image and keeps the new one in its place.
                XCTAssertTrue(held.remove(used) != nil, "\(used) was not in the pool")
                held.insert(new)
                swapped += 1
            }
            XCTAssertEqual(Set(stride(from: 0, to: pool.images.count, by: 3).map { pool.images[$0] }), held)
        }
        XCTAssertEqual(Double(swapped) / Double(drawn), 0.5, accuracy: 0.1)
    }

    func testPoolDrawsDependOnTheSeedAndPoolOnly() throws {
        func draws(seed: UInt64, index: Int) -> [Float] {
            var pool = HistoryPool(capacity: 2, imageSize: 1, seed: seed, index: index)
            return (0..<30).flatMap { pool.draw([Float(2 * $0), Float(2 * $0 + 1)]) }
        }
        XCTAssertEqual(draws(seed: 3, index: 0), draws(seed: 3, index: 0))
        XCTAssertNotEqual(draws(seed: 3, index: 0), draws(seed: 4, index: 0))
        XCTAssertNotEqual(draws(seed: 3, index: 0), draws(seed: 3, index: 1))
        // A restored pool continues as the original does.
        var original = HistoryPool(capacity: 2, imageSize: 1, seed: 3, index: 0)
        for k in 0..<5 { _ = original.draw([Float(k), Float(k) + 0.5]) }
        var restored = HistoryPool(capacity: 2, imageSize: 1, seed: 3, index: 0)
        try restored.restore(stored: original.images, count: original.count, draws: original.draws)
        XCTAssertEqual(restored, original)
        XCTAssertEqual(restored.draw([7, 8]), original.draw([7, 8]))
        XCTAssertThrowsError(try restored.restore(stored: [1, 2, 3], count: 3, draws: 0))
    }

    func testDomainBatchesHoldOneClassEachInOrdersOfTheirOwn() throws {
        let split = try MNISTDataset.split(.train, directory: Prerequisites.fashionMNIST(), limit: 2000)
        let (sneakers, boots) = (split.selecting(label: 7).count, split.selecting(label: 9).count)
        var batches = try DomainBatchIterator(split: split, domains: definition.domains, batchSize: 8, encoding: .symmetric, seed: 2)
        XCTAssertEqual(batches.batchesPerEpoch, Swift.min(sneakers, boots) / 8)
        var firstImages: [[Float]] = []
        for epoch in 0..<2 {
            batches.start(epoch: epoch)
            var count = 0
            while let batch = batches.next() {
                XCTAssertEqual(batch.labels, [Int32](repeating: 7, count: 8) + [Int32](repeating: 9, count: 8))
                if count == 0 { firstImages.append(batch.images) }
                count += 1
            }
            XCTAssertEqual(count, batches.batchesPerEpoch)
        }
        XCTAssertNotEqual(firstImages[0], firstImages[1], "each epoch draws a new order")
        XCTAssertThrowsError(try DomainBatchIterator(split: split, domains: definition.domains, batchSize: 10_000, encoding: .symmetric))
    }

    /// The PyTorch reference's state_dict (tools/peers/README.md), in its order.
    func testTensorNamesAreTheReferences() throws {
        let translator = ["conv_in", "down"] + (0..<3).flatMap { ["res.\($0).conv1", "res.\($0).conv2"] } + ["up", "conv_out"]
        let layers = translator.map { "G_AB." + $0 } + translator.map { "G_BA." + $0 }
            + ["D_A", "D_B"].flatMap { d in ["c1", "c2", "c3"].map { "\(d).\($0)" } }
        let names = Checkpoint.tensorNames(of: try definition.instantiate(batch: 2).graph)
        XCTAssertEqual(names, layers.flatMap { [$0 + ".weight", $0 + ".bias"] })
        let model = try definition.instantiate(batch: 2)
        XCTAssertEqual(model.objectives.map { $0.parameters.count }, [40, 12])
        XCTAssertEqual(model.histories.map(\.name), ["pool_a", "pool_b"])
        XCTAssertEqual(try model.historyRoutes(), [HistoryRoute(phase: 0, producer: 0), HistoryRoute(phase: 0, producer: 0)])
    }

    /// With pools of 6 that fill after a step and a half, a run stopped after 3 steps and
    /// resumed ends bit for bit as an uninterrupted one: the pools were saved and restored.
    func testResumeRestoresThePools() throws {
        let data = try Prerequisites.fashionMNIST()
        var options = TrainingRunTests.options(steps: 6)
        options.dataDirectory = data
        options.testLimit = 100
        let source = try XCTUnwrap(DSLZoo.model(named: "cyclegan"))
        let config = RunConfig(threads: 2, seed: 4, mode: .fused)
        func directory() -> RunDirectory {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-cyclegan-\(UUID().uuidString)")
            addTeardownBlock { try? FileManager.default.removeItem(at: url) }
            return RunDirectory(url.path)
        }
        let overrides = ["batch": "4", "pool": "6"]
        let whole = directory(), split = directory()
        let uninterrupted = try TrainingRun(source: source, overrides: overrides, directory: whole, config: config, options: options, resume: false)
        try uninterrupted.run()
        let first = try TrainingRun(source: source, overrides: overrides, directory: split, config: config, options: options, resume: false)
        XCTAssertFalse(try first.run(shouldStop: { first.step >= 3 }))
        var resumeOptions = TrainingRunTests.options(steps: nil)
        resumeOptions.testLimit = 100
        let resumed = try TrainingRun(source: nil, overrides: [:], directory: split, config: RunConfig(threads: 1), options: resumeOptions, resume: true)
        XCTAssertEqual(resumed.trainer.pools, first.trainer.pools)
        XCTAssertTrue(resumed.trainer.pools.allSatisfy { $0.count == 6 })
        try resumed.run()
        XCTAssertEqual(resumed.trainer.pools, uninterrupted.trainer.pools)
        let bits = { (d: RunDirectory) in try SafeTensors(contentsOf: d.checkpoint).entries.map { $0.value.scalars.map(\.bitPattern) } }
        XCTAssertEqual(try bits(split), try bits(whole))

        // A pool's saved draw count out of range (one more draw would overflow it) or missing is refused by name.
        let saved = try SafeTensors(contentsOf: split.optimizer)
        for (value, message) in [("18446744073709551615", "'history.pool_a.draws' is '18446744073709551615', not a whole number from 0 to"),
                                 ("-5", "'history.pool_a.draws' is '-5'"), (nil, "does not record the history pool 'pool_a' (no 'history.pool_a.draws')")] {
            var tampered = saved
            tampered.metadata["history.pool_a.draws"] = value
            try tampered.write(to: split.optimizer)
            XCTAssertThrowsError(try TrainingRun(source: nil, overrides: [:], directory: split, config: RunConfig(threads: 1),
                                                 options: resumeOptions, resume: true)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// docs/dsl.md shows cyclegan.gg whole; the two must not drift apart.
    func testTheDocsShowCycleGANsSource() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/dsl.md").standardized
        let text = try String(contentsOf: docs, encoding: .utf8)
        XCTAssertTrue(text.contains("```\n" + (try XCTUnwrap(DSLZoo.source(named: "cyclegan"))) + "```\n"))
    }

    // MARK: The DSL's domains, pools and translations, misused

    private let model = """
        model m
        hyper batch = 2
        input a : images[batch, 1, 28, 28] symmetric class 7
        input b : images[batch, 1, 28, 28] symmetric class 9
        def g(x) = x -> conv(1, 3, pad=1) as gc
        def d(x) = x -> conv(1, 3, pad=1) as dc
        def G(x) = g(x) as G
        def D(x) = d(x) as D
        translate a -> b with G
        fake = G(a)
        g_loss = mse(D(fake), 1)
        old = history(fake, 4) as pool
        d_loss = mse(D(b), 1) + mse(D(old), 0)
        phase {
          minimize g_loss over G with adam(1e-3)
          minimize d_loss over D with adam(1e-3)
        }
        """

    private func assertError(_ replace: String, with replacement: String, _ expected: String, at position: (Int, Int),
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(model.contains(replace), replace, file: file, line: line)
        let text = model.replacingOccurrences(of: replace, with: replacement)
        XCTAssertThrowsError(try ModelSource.parse(text, file: "m.gg").definition(), file: file, line: line) { error in
            guard let error = error as? DSLError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.message, expected, file: file, line: line)
            XCTAssertEqual([error.location.line, error.location.column], [position.0, position.1], error.description, file: file, line: line)
        }
    }

    func testTheSmallModelBuilds() throws {
        let definition = try ModelSource.parse(model, file: "m.gg").definition()
        XCTAssertEqual(definition.domains, [ImageDomain(input: "a", label: 7), ImageDomain(input: "b", label: 9)])
        XCTAssertEqual(definition.translations, [Translation(source: "a", target: "b", function: "G")])
        XCTAssertEqual(try definition.instantiate().histories.map(\.name), ["pool"])
    }

    func testMisusedDomainsPoolsAndTranslationsAreLocated() {
        assertError("symmetric class 9", with: "symmetric", "a model with several images inputs takes one class in each, "
                    + "such as 'input b : images[batch, 1, 28, 28] symmetric class 7'", at: (4, 1))
        assertError("symmetric class 9", with: "unit class 9", "every images input needs the pixel range of 'a'", at: (4, 1))
        assertError("class 9", with: "class 7", "'a' already takes class 7", at: (4, 52))
        assertError("class 9", with: "class 10", "a domain's class must be an integer in 0...9", at: (4, 52))
        assertError("symmetric class 9\n", with: "symmetric class 9\ninput y : labels[batch] of 10\n",
                    "a model whose images inputs take one class each has no labels input", at: (5, 1))
        assertError("translate a -> b", with: "translate a -> c", "'c' is not an images input that takes a class (a domain)", at: (9, 16))
        assertError("translate a -> b", with: "translate a -> a", "a translation needs two different domains", at: (9, 16))
        assertError("with G\n", with: "with g\n", "'g' must take one argument, the images, and return one tensor", at: (9, 23))
        assertError("with G\n", with: "with H\n", "unknown function 'H'", at: (9, 23))
        // A translation reads trained parameters only: an instance no objective trains would translate with random weights.
        assertError("translate a -> b with G\n", with: "def H(x) = g(x) as H\ntranslate a -> b with H\n",
                    "'H' reads 'H.gc.weight', a parameter that no objective trains", at: (10, 23))
        assertError("with G\n", with: "with G\ntranslate a -> b with G\n", "images of 'a' are already translated by an earlier 'translate'", at: (10, 1))
        assertError("over D with", with: "over d with", "'d' is neither a network nor an instance ('f(x) as d'); 'over' takes those, which own parameters",
                    at: (16, 24))
        assertError("mse(D(old), 0)", with: "mse(D(fake), 0)", "no objective reads the pool 'pool'", at: (12, 7))
        assertError("  minimize g_loss over G with adam(1e-3)\n  minimize d_loss", with: "  minimize d_loss over D with adam(1e-3)\n  minimize g_loss",
                    "the pool 'pool' draws from values that no earlier objective of its phase computes", at: (12, 7))
        assertError("history(fake, 4)", with: "history(fake, 0)", "argument 'capacity' of 'history' must be a positive integer, got the integer 0",
                    at: (12, 21))
        // The pool is one tensor of capacity x 1 x 28 x 28 values: past every tensor's limit it is refused
        // where it is written, not when a run allocates or saves it.
        for capacity in ["1000000000", "9223372036854775807"] {
            assertError("history(fake, 4)", with: "history(fake, \(capacity))",
                        "history: a pool of capacity \(capacity): shape [\(capacity),1,28,28] has more than 2147483648 elements (8 GiB of f32)",
                        at: (12, 7))
        }
    }

    func testAPoolPastTheTensorLimitFromSetIsLocated() throws {
        let cyclegan = try XCTUnwrap(DSLZoo.model(named: "cyclegan"))
        XCTAssertThrowsError(try cyclegan.definition(overrides: ["pool": "9223372036854775807"])) { error in
            XCTAssertTrue("\(error)".hasPrefix("cyclegan.gg:"), "\(error)")
            XCTAssertTrue("\(error)".contains("history: a pool of capacity 9223372036854775807"), "\(error)")
        }
    }
}
