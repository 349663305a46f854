@testable import GenGraph
import XCTest

/// DDPM (docs/zoo.md): its noise schedule, the schedule lookup, and both samplers, checked
/// with a denoiser that knows the one image of its data set.
final class DDPMTests: XCTestCase {
    private let schedule = try! DiffusionSchedule(steps: 1000, betaStart: 1e-4, betaEnd: 0.02)

    func testScheduleIsLinearInBetaAndItsProductsAreAlphaBar() throws {
        XCTAssertEqual(schedule.betas.count, 1001)
        XCTAssertEqual(schedule.betas[0], 0)
        XCTAssertEqual(schedule.alphaBars[0], 1)
        XCTAssertEqual(schedule.betas[1], Float(1e-4))
        XCTAssertEqual(schedule.betas[1000], Float(0.02))
        var product = 1.0
        for t in 1...1000 {
            let beta = 1e-4 + Double(t - 1) * (0.02 - 1e-4) / 999
            XCTAssertEqual(Double(schedule.betas[t]), beta, accuracy: 1e-9, "beta_\(t)")
            product *= 1 - beta
            XCTAssertEqual(Double(schedule.alphaBars[t]), product, accuracy: 1e-6 * product, "abar_\(t)")
        }
        XCTAssertEqual(try schedule.ddimTimes(4), [1000, 750, 500, 250, 0])
        XCTAssertEqual(try schedule.ddimTimes(3), [1000, 666, 333, 0])
        XCTAssertEqual(try schedule.ddimTimes(50).count, 51)
        for bad in [0, 1001] {
            XCTAssertThrowsError(try schedule.ddimTimes(bad)) { XCTAssertTrue("\($0)".contains("DDIM takes 1...1000 steps"), "\($0)") }
        }
        XCTAssertThrowsError(try DiffusionSchedule(steps: 10, betaStart: 0.02, betaEnd: 1e-4))
        XCTAssertThrowsError(try DiffusionSchedule(steps: 10, betaStart: 0, betaEnd: 0.02))
        XCTAssertThrowsError(try DiffusionSchedule(steps: 0, betaStart: 1e-4, betaEnd: 0.02))
        XCTAssertThrowsError(try DiffusionSchedule(steps: DiffusionSchedule.maximumSteps + 1, betaStart: 1e-4, betaEnd: 0.02))
        // torch.linspace(b0, b1, 1) is [b0]; two levels are both ends.
        XCTAssertEqual(try DiffusionSchedule(steps: 1, betaStart: 1e-4, betaEnd: 0.02).betas, [0, 1e-4])
        XCTAssertEqual(try DiffusionSchedule(steps: 2, betaStart: 1e-4, betaEnd: 0.02).betas, [0, 1e-4, 0.02])
    }

    /// alpha_bar(t) is the schedule's table at t in both modes, a named constant in the
    /// text form; a time outside 0...T fails the run instead of reading nothing.
    func testAlphaBarLooksUpTheTable() throws {
        let g = Graph()
        let t = try g.input("t", [4])
        let alphaBar = try t.alphaBar(schedule)
        XCTAssertTrue(g.text().contains("const_data[\"alpha_bar\",fnv="), g.text())
        let times: [Float] = [0, 1, 500, 1000]
        for mode in ExecutionMode.allCases {
            let session = try Session(graph: g, config: RunConfig(threads: 2, mode: mode))
            let values = try session.run([alphaBar], feeds: ["t": TensorValue(shape: [4], scalars: times)])[0].scalars
            XCTAssertEqual(values, times.map { schedule.alphaBars[Int($0)] }, "\(mode)")
            XCTAssertThrowsError(try session.run([alphaBar], feeds: ["t": TensorValue(shape: [4], scalars: [0, 1, 2, 1001])]), "\(mode)")
        }
    }

    /// The training graph's time steps, floor(U[0,1) T) + 1, cover 1...T and nothing else.
    func testTrainingTimeStepsAreIntegersFrom1ToT() throws {
        let g = Graph()
        let t = try (g.randomUniform([20_000]) * Float(1000)).floor() + 1
        let values = try Session(graph: g, config: RunConfig(threads: 2, seed: 5)).run([t])[0].scalars
        XCTAssertTrue(values.allSatisfy { $0 == $0.rounded() && (1...1000).contains($0) })
        XCTAssertEqual(Set(values).count, 1000, "20,000 draws should hit every one of 1000 steps")
    }

    /// A model whose denoiser knows its data set's one image `target`: eps(x_t, t) is exactly
    /// (x_t - sqrt(abar_t) target) / sqrt(1 - abar_t), so every sampler must end at `target`.
    private static let oracle = """
        model oracle
        hyper batch = 2
        hyper timesteps = 1000
        input x : images[batch, 1, 28, 28] symmetric
        def eps(x, t) {
          a = reshape(alpha_bar(t, timesteps, 1e-4, 0.02), [-1, 1, 1, 1])
          return (x - sqrt(a) * param([1, 1, 28, 28]) as target) / sqrt(1 - a)
        }
        loss = mean(square(eps(x, ones([batch]) * 500)))
        minimize loss with adam(1e-3)
        sample n = diffusion(eps, timesteps, 1e-4, 0.02)
        """

    func testBothSamplersTurnNoiseIntoTheOracleImage() throws {
        let definition = try ModelSource.parse(Self.oracle, file: "oracle.gg").definition()
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate().graph, config: RunConfig(threads: 1), parameters: parameters)
        let target = (0..<784).map { Float(($0 * 37) % 181) / 100 - 0.9 }
        try parameters.set("target", TensorValue(shape: [1, 1, 28, 28], scalars: target))
        for (sampling, tolerance) in [(DiffusionSampling.ddim(steps: 10), Float(1e-3)), (.ddim(steps: 1), 1e-3), (.ddpm, 1e-2)] {
            var sampler = Sampler(definition: definition, parameters: parameters, config: RunConfig(threads: 2, seed: 4, mode: .fused))
            sampler.diffusion = sampling
            let images = try sampler.sample(count: 3).scalars
            let error = zip(images, target + target + target).map { Swift.abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(error, tolerance, "\(sampling): max |sample - target|")
        }
    }

    /// Untrained ddpm: samples depend on the seed alone, stay in [-1, 1], and agree across modes.
    func testSamplesAreDeterministicPerSeedAndInRange() throws {
        let definition = try XCTUnwrap(DSLZoo.definition(named: "ddpm"))
        let parameters = ParameterStore()
        _ = try Session(graph: definition.instantiate(batch: 2).graph, config: RunConfig(threads: 1), parameters: parameters)
        func draw(_ seed: UInt64, _ mode: ExecutionMode = .fused) throws -> [Float] {
            var sampler = Sampler(definition: definition, parameters: parameters, config: RunConfig(threads: 2, seed: seed, mode: mode))
            sampler.diffusion = .ddim(steps: 2)
            return try sampler.sample(count: 2).scalars
        }
        let a = try draw(1)
        XCTAssertEqual(a, try draw(1))
        XCTAssertNotEqual(a, try draw(2))
        XCTAssertTrue(a.allSatisfy { (-1...1).contains($0) })
        // DDIM's first step divides the predicted noise's difference by sqrt(alpha-bar) at the
        // last noise level (0.0064): 1e-3 here is the two modes' noise agreeing within 6.4e-6.
        for (x, y) in zip(a, try draw(1, .eager)) { XCTAssertEqual(x, y, accuracy: 1e-3) }
    }

    func testDiffusionSamplersAreRefusedWhereTheyDoNotApply() throws {
        let ddpm = try XCTUnwrap(DSLZoo.definition(named: "ddpm"))
        let parameters = ParameterStore()
        _ = try Session(graph: ddpm.instantiate(batch: 2).graph, config: RunConfig(threads: 1), parameters: parameters)
        var sampler = Sampler(definition: ddpm, parameters: parameters, config: RunConfig(threads: 1))
        sampler.diffusion = .ddim(steps: 1001)
        XCTAssertThrowsError(try sampler.sample(count: 1)) { XCTAssertTrue("\($0)".contains("DDIM takes 1...1000 steps"), "\($0)") }

        let vae = try XCTUnwrap(DSLZoo.definition(named: "vae"))
        let vaeParameters = ParameterStore()
        _ = try Session(graph: vae.instantiate(batch: 2).graph, config: RunConfig(threads: 1), parameters: vaeParameters)
        var other = Sampler(definition: vae, parameters: vaeParameters, config: RunConfig(threads: 1))
        other.diffusion = .ddpm
        XCTAssertThrowsError(try other.sample(count: 1)) { XCTAssertTrue("\($0)".contains("not a diffusion model"), "\($0)") }
    }

    /// Misused diffusion constructs are errors at their file:line:col.
    func testMisuseIsLocated() {
        func model(_ lines: [String]) -> String {
            (["model m", "hyper batch = 4", "input x : images[batch, 1, 28, 28] symmetric"] + lines).joined(separator: "\n")
        }
        let cases: [(String, String)] = [
            (model(["def eps(x, t) = x * 2", "h = diffusion(eps, 1000, 1e-4, 0.02)", "loss = mean(x)", "minimize loss with adam(1e-3)"]),
             "m.gg:5:5: error: 'diffusion' is only allowed as the result of a 'sample'"),
            (model(["a = alpha_bar(ones([batch]), 1000, 0.02, 1e-4)", "loss = mean(x * a)", "minimize loss with adam(1e-3)"]),
             "m.gg:4:5: error: diffusion: betas must satisfy 0 < beta_start <= beta_end < 1, got 0.02 and 0.0001"),
            (model(["def eps(x, t) = flatten(x * param([1]) as w)", "loss = mean(eps(x, 1))", "minimize loss with adam(1e-3)",
                    "sample n = diffusion(eps, 1000, 1e-4, 0.02)"]),
             "m.gg:7:12: error: the predicted noise has shape [1,784], the images [1,1,28,28]"),
            (model(["def eps(x, t) = x * param([1]) as w", "loss = mean(eps(x, 1))", "minimize loss with adam(1e-3)",
                    "sample n = diffusion(eps, 0, 1e-4, 0.02)"]),
             "m.gg:7:27: error: argument 'steps' of 'diffusion' must be a positive integer, got the integer 0"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ModelSource.parse(text, file: "m.gg").definition()) { error in
                XCTAssertEqual("\(error)".split(separator: "\n").first.map(String.init), expected)
            }
        }
    }

    /// gengraph's U-Net is PyTorch's: the reference (tools/peers/torch_families.py) loads an
    /// initialised checkpoint strictly and predicts the same noise for the same images and times.
    func testThePyTorchReferencePredictsTheSameNoise() throws {
        let python = try Prerequisites.python(importing: "safetensors, torch, numpy")
        let definition = try XCTUnwrap(DSLZoo.definition(named: "ddpm"))
        let model = try definition.instantiate(batch: 3)
        let session = try Session(graph: model.graph, config: RunConfig(threads: 2, seed: 12))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-ddpm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let (checkpoint, images, times, predicted) = (file("ddpm.safetensors"), file("x.npy"), file("t.npy"), file("eps.npy"))
        try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "ddpm", step: 0, seed: 12),
                            to: URL(fileURLWithPath: checkpoint))
        let x: [Float] = (0..<(3 * 784)).map { (i: Int) -> Float in Float((i * 53) % 200) / 100 - 1 }
        let t: [Float] = [1, 480, 1000]
        try NPYArray(shape: [3, 1, 28, 28], values: x).write(to: images)
        try NPYArray(shape: [3], values: t).write(to: times)
        let script = """
            import sys, numpy as np, torch
            from safetensors.torch import load_file
            sys.path.insert(0, sys.argv[1])
            from torch_families import DDPM
            model = DDPM()
            model.load_state_dict(load_file(sys.argv[2]), strict=True)
            with torch.no_grad():
                eps = model.eps(torch.from_numpy(np.load(sys.argv[3])), torch.from_numpy(np.load(sys.argv[4])).long())
            np.save(sys.argv[5], eps.numpy())
            """
        let peers = Prerequisites.repository.appendingPathComponent("tools/peers").path
        let result = try Prerequisites.run(python + ["-c", script, peers, checkpoint, images, times, predicted])
        XCTAssertEqual(result.status, 0, result.output)
        let expected = try NPYArray(contentsOf: predicted)
        let g = Graph()
        let eps = try definition.call("eps", [g.input("x", [3, 1, 28, 28]), g.input("t", [3])])
        let got = try Session(graph: g, config: RunConfig(threads: 2), parameters: session.parameters)
            .run([eps], feeds: ["x": TensorValue(shape: [3, 1, 28, 28], scalars: x), "t": TensorValue(shape: [3], scalars: t)])[0]
        XCTAssertEqual(expected.shape, [3, 1, 28, 28])
        let error = zip(got.scalars, expected.values).map { Swift.abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(error, 1e-4, "max |gengraph eps - PyTorch eps|")
    }
}
