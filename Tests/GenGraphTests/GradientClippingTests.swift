@testable import GenGraph
import XCTest

/// Global-norm gradient clipping (PyTorch's clip_grad_norm_): every gradient scaled by
/// min(1, max / (norm + 1e-6)), the norm taken over all of them together.
final class GradientClippingTests: XCTestCase {
    /// A loss linear in parameters a (3) and b (2 x 2), so their gradients are the fed coefficients.
    private let coefficients: [[Float]] = [[3, -4, 12], [0, 2, -1, 2]]  // norm sqrt(178)

    private func linearLoss(_ g: Graph) throws -> (loss: Tensor, parameters: [Tensor], feeds: [String: TensorValue]) {
        let a = try g.parameter("a", [3]), b = try g.parameter("b", [2, 2])
        let ca = try g.input("ca", [3]), cb = try g.input("cb", [2, 2])
        let loss = try (a * ca).sum() + (b * cb).sum()
        let feeds = ["ca": try TensorValue(shape: [3], scalars: coefficients[0]),
                     "cb": try TensorValue(shape: [2, 2], scalars: coefficients[1])]
        return (loss, [a, b], feeds)
    }

    private func expected(maxNorm: Double) -> [[Float]] {
        let norm = coefficients.joined().reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let scale = min(1, maxNorm / (norm + 1e-6))
        return coefficients.map { $0.map { Float(Double($0) * scale) } }
    }

    func testGradientsAboveTheNormAreScaledDownToItAndOthersKept() throws {
        for mode in ExecutionMode.allCases {
            for maxNorm: Float in [2, 100] {
                let g = Graph()
                let (loss, parameters, feeds) = try linearLoss(g)
                let clipped = try g.clippedByGlobalNorm(try g.gradients(of: loss, withRespectTo: parameters), maxNorm: maxNorm)
                let values = try Session(graph: g, config: RunConfig(threads: 2, mode: mode)).run(clipped, feeds: feeds)
                for (value, want) in zip(values, expected(maxNorm: Double(maxNorm))) {
                    for (v, w) in zip(value.scalars, want) { XCTAssertEqual(v, w, accuracy: 1e-6 * Swift.max(1, Swift.abs(w)), "\(mode) max \(maxNorm)") }
                }
                if maxNorm == 100 { XCTAssertEqual(values.map(\.scalars), coefficients, "below the norm the gradients are kept exactly") }
            }
        }
    }

    /// A zero gradient has norm 0: the 1e-6 keeps the scale finite, and zero stays zero.
    func testZeroGradientsStayZero() throws {
        let g = Graph()
        let a = try g.parameter("a", [4])
        let clipped = try g.clippedByGlobalNorm(try g.gradients(of: (a * 0).sum(), withRespectTo: [a]), maxNorm: 1)
        XCTAssertEqual(try Session(graph: g).run(clipped)[0].scalars, [0, 0, 0, 0])
    }

    func testTheLargestNormIsAFiniteNumberAboveZero() throws {
        let g = Graph()
        let a = try g.parameter("a", [2])
        for bad: Float in [0, -1, .nan, .infinity] {
            XCTAssertThrowsError(try g.clippedByGlobalNorm([a], maxNorm: bad))
        }
    }

    /// `minimize(clipNorm:)` updates by the clipped gradients, in both modes (SGD, lr 1: the step is -gradient).
    func testMinimizeUpdatesByTheClippedGradients() throws {
        for mode in ExecutionMode.allCases {
            let g = Graph()
            let (loss, parameters, feeds) = try linearLoss(g)
            let session = try Session(graph: g, config: RunConfig(threads: 2, mode: mode))
            try session.train(try session.minimize(loss, over: parameters, using: .sgd(learningRate: 1), clipNorm: 2), feeds: feeds)
            for (name, want) in zip(["a", "b"], expected(maxNorm: 2)) {
                let got = try XCTUnwrap(session.parameters.value(name)).scalars
                for (v, w) in zip(got, want) { XCTAssertEqual(v, -w, accuracy: 1e-6, "\(mode) \(name)") }
            }
        }
    }

    /// From a model file to the trainer: `clip_norm(m)` bounds every step's update to norm m (SGD, lr 1).
    func testAModelsClipNormBoundsEachTrainingStep() throws {
        let text = """
            model m
            hyper batch = 4
            input x : images[batch, 1, 28, 28] unit
            loss = mean(x -> flatten -> dense(8) as fc -> square) * 1000
            minimize loss with sgd(1) clip_norm(0.001)
            """
        for mode in ExecutionMode.allCases {
            let model = try ModelSource.parse(text, file: "m.gg").definition().instantiate()
            let trainer = try Trainer(model: model, config: RunConfig(threads: 2, seed: 1, mode: mode))
            let before = trainer.session.parameters.names.map { trainer.session.parameters.value($0)!.scalars }
            try trainer.step { FusedEagerTests.batch(model, seed: 1) }
            let after = trainer.session.parameters.names.map { trainer.session.parameters.value($0)!.scalars }
            let moved = zip(before.joined(), after.joined()).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
            XCTAssertGreaterThan(moved, 0.0009, "\(mode): the step should reach the clipped norm")
            XCTAssertLessThanOrEqual(moved, 0.0010001, "\(mode): the step must not exceed the clipped norm")
        }
    }
}
