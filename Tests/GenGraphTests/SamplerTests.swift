@testable import GenGraph
import XCTest

final class SamplerTests: XCTestCase {
    /// The sampler runs PixelCNN on the rows filled so far only; that is exact
    /// because a causal model's logits of row r never read rows below r.
    func testPixelCNNLogitsOfCroppedCanvasesMatchTheFullCanvas() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "pixelcnn"))
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate(batch: 2).graph, config: RunConfig(threads: 1, seed: 3), parameters: parameters)
        var rng = TestRNG(seed: 11)
        let full = (0..<(2 * 784)).map { _ in Float(rng.below(2)) }
        func logits(rows: Int) throws -> [Float] {
            let g = Graph()
            let canvas = try g.input("canvas", [2, 1, rows, 28])
            let out = try definition.call("pixel_logits", [canvas])
            let cropped = (0..<2).flatMap { b in full[(b * 784)..<(b * 784 + rows * 28)] }
            return try Session(graph: g, config: RunConfig(threads: 2, mode: .fused), parameters: parameters)
                .run([out], feeds: ["canvas": TensorValue(shape: [2, 1, rows, 28], scalars: cropped)])[0].scalars
        }
        let reference = try logits(rows: 28)
        for rows in [1, 5, 14, 27] {
            let part = try logits(rows: rows)
            for b in 0..<2 {
                let expected = Array(reference[(b * 784)..<(b * 784 + rows * 28)])
                let got = Array(part[(b * rows * 28)..<((b + 1) * rows * 28)])
                for (x, y) in zip(got, expected) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), "rows \(rows)") }
            }
        }
    }

    func testSamplesAreBinaryAndDeterministicPerSeed() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "pixelcnn"))
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate(batch: 2).graph, config: RunConfig(threads: 1), parameters: parameters)
        func draw(_ seed: UInt64) throws -> [Float] {
            try Sampler(definition: definition, parameters: parameters, config: RunConfig(threads: 2, seed: seed, mode: .fused))
                .sample(count: 2).scalars
        }
        let a = try draw(1), b = try draw(1), c = try draw(2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertTrue(a.allSatisfy { $0 == 0 || $0 == 1 })
    }

    /// One plan over the full canvas, replayed 784 times, draws the images the row-cropped plans draw.
    func testFullCanvasSamplingMatchesRowCroppedSampling() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "pixelcnn"))
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate(batch: 2).graph, config: RunConfig(threads: 1), parameters: parameters)
        var sampler = Sampler(definition: definition, parameters: parameters, config: RunConfig(threads: 2, seed: 3, mode: .fused))
        let cropped = try sampler.sample(count: 2).scalars
        sampler.fullCanvas = true
        XCTAssertEqual(try sampler.sample(count: 2).scalars, cropped)
    }
}
