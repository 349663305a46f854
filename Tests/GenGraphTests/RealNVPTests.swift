@testable import GenGraph
import XCTest

/// RealNVP (docs/zoo.md): its inverse undoes it, it starts as the logit transform alone,
/// samples follow the temperature, and evaluation averages dequantisation draws.
final class RealNVPTests: XCTestCase {
    private let definition = try! XCTUnwrap(DSLZoo.definition(named: "realnvp"))

    /// Moves every parameter away from the identity the model starts as (zero last convs):
    /// each coupling then scales (log s up to about ±1) and shifts.
    private func perturb(_ store: ParameterStore) throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        for name in store.names {
            let v = try XCTUnwrap(store.value(name))
            let scalars = v.scalars.map { name.hasSuffix(".scale") ? 1 + 0.5 * uniform() : $0 + 0.1 * uniform() }
            try store.set(name, TensorValue(shape: v.shape, scalars: scalars))
        }
    }

    /// Images in (0, 1): every byte level, dequantised to its centre.
    private let pixels: [Float] = (0..<(4 * 784)).map { (i: Int) -> Float in
        let level = Float((i * 37) % 256)
        return (level + 0.5) / 256
    }

    private func logits(_ x: [Float]) -> [Float] {
        x.map { v in
            let p = 0.05 + 0.9 * Double(v)
            return Float(Foundation.log(p / (1 - p)))
        }
    }

    func testInverseUndoesTheForwardPassWithin1e4() throws {
        for mode in ExecutionMode.allCases {
            let g = Graph()
            let x = try g.input("x", [4, 1, 28, 28])
            let z = try definition.call("to_latent", [x])
            let back = try definition.call("from_latent", [z])
            let session = try Session(graph: g, config: RunConfig(threads: 2, seed: 1, mode: mode))
            try perturb(session.parameters)
            let values = try session.run([z, back], feeds: ["x": TensorValue(shape: [4, 1, 28, 28], scalars: pixels)])
            let error = zip(values[1].scalars, pixels).map { Swift.abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(error, 1e-4, "\(mode): max |from_latent(to_latent(x)) - x|")
            // The couplings did transform: the latent is far from the logits alone.
            let moved = zip(values[0].scalars, logits(pixels)).map { Swift.abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(moved, 0.5, "\(mode): the perturbed couplings should move the latent")
        }
    }

    /// Untrained, every coupling is the identity (zero last conv): the latent is the logits, and
    /// the loss is the logit transform's NLL under the prior, computed here in Double from the
    /// step's own dequantisation noise.
    func testAnUntrainedFlowIsTheLogitTransform() throws {
        let model = try definition.instantiate(batch: 2)
        let session = try Session(graph: model.graph, config: RunConfig(threads: 2, seed: 3))
        let bytes: [Float] = (0..<(2 * 784)).map { (i: Int) -> Float in Float((i * 91) % 256) }
        let noise = try XCTUnwrap(model.graph.nodes.indices.first { model.graph.nodes[$0].op.category == .random })
        let values = try session.run([model.objectives[0].loss, model.graph.tensor(noise)],
                                     feeds: ["x": TensorValue(shape: [2, 1, 28, 28], scalars: bytes)])
        var nll = 0.0
        for (u, v) in zip(bytes, values[1].scalars) {
            let p = 0.05 + 0.9 * (Double(u) + Double(v)) / 256
            let y = Foundation.log(p / (1 - p))
            nll += 0.5 * (y * y + Foundation.log(2 * Double.pi)) - (Foundation.log(0.9) - Foundation.log(p) - Foundation.log(1 - p))
        }
        XCTAssertEqual(Double(values[0].scalars[0]), nll / 2, accuracy: 1e-5 * Swift.abs(nll / 2))

        let g = Graph()
        let z = try definition.call("to_latent", [try g.input("x", [4, 1, 28, 28])])
        let latent = try Session(graph: g, parameters: session.parameters).run([z], feeds: ["x": TensorValue(shape: [4, 1, 28, 28], scalars: pixels)])
        let error = zip(latent[0].scalars, logits(pixels)).map { Swift.abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, 1e-5)
    }

    /// Temperature 0 maps every image to the latent's mode (one image), 1 is the default;
    /// images are in [0, 1].
    func testSamplesFollowTheTemperature() throws {
        let store = try Session(graph: definition.instantiate(batch: 2).graph).parameters
        try perturb(store)
        let sampler = Sampler(definition: definition, parameters: store, config: RunConfig(threads: 2, seed: 4))
        let cold = try sampler.sample(count: 3, temperature: 0).scalars
        XCTAssertEqual(Array(cold[0..<784]), Array(cold[784..<1568]))
        XCTAssertEqual(Array(cold[0..<784]), Array(cold[1568...]))
        let warm = try sampler.sample(count: 3, temperature: 0.7)
        XCTAssertEqual(warm.shape, [3, 1, 28, 28])
        XCTAssertTrue(warm.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertNotEqual(Array(warm.scalars[0..<784]), Array(warm.scalars[784..<1568]))
        XCTAssertNotEqual(warm.scalars, cold)
        XCTAssertEqual(try sampler.sample(count: 3).scalars, try sampler.sample(count: 3, temperature: 1).scalars)
        XCTAssertThrowsError(try Sampler(definition: XCTUnwrap(DSLZoo.definition(named: "vae")), parameters: store,
                                         config: RunConfig(threads: 1)).sample(count: 1, temperature: 0.5))
    }

    /// `draws` evaluates each batch that many times on fresh noise and averages: close to one
    /// draw, not equal to it; a model without noise in its metrics refuses more than one.
    func testEvaluationAveragesDequantisationDraws() throws {
        let test = try MNISTDataset.split(.test, directory: Prerequisites.fashionMNIST(), limit: 20)
        let store = try Session(graph: definition.instantiate(batch: 2).graph).parameters
        let evaluator = Evaluator(definition: definition, parameters: store, config: RunConfig(threads: 2, seed: 2))
        let one = try evaluator.evaluate(test, batch: 10), three = try evaluator.evaluate(test, batch: 10, draws: 3)
        XCTAssertEqual(one.map(\.name), ["bpd"])
        XCTAssertEqual(three.map(\.name), ["bpd"])
        XCTAssertTrue(one[0].value.isFinite && one[0].value > 0, "\(one)")
        XCTAssertNotEqual(one[0].value, three[0].value)
        XCTAssertEqual(one[0].value, three[0].value, accuracy: 0.05)
        XCTAssertThrowsError(try evaluator.evaluate(test, batch: 10, draws: 0))

        let ae = try XCTUnwrap(DSLZoo.definition(named: "ae"))
        let aeStore = try Session(graph: ae.instantiate(batch: 2).graph).parameters
        XCTAssertThrowsError(try Evaluator(definition: ae, parameters: aeStore, config: RunConfig(threads: 1)).evaluate(test, batch: 10, draws: 2)) {
            XCTAssertTrue("\($0)".contains("draws no noise"), "\($0)")
        }
    }
}
