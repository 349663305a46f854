import Kernels

/// How a diffusion model's sampler walks from noise to images.
public enum DiffusionSampling: Equatable, Sendable {
    /// DDIM with eta = 0 over `steps` of the schedule's times: deterministic given the starting noise.
    case ddim(steps: Int)
    /// Ancestral sampling over every noise level with sigma_t^2 = beta_t.
    case ddpm

    public static let standardSteps = 50
}

extension Sampler {
    /// Images from N(0, I) noise, denoised by `denoiser`'s one compiled plan replayed per
    /// step; the per-image arithmetic between steps runs here, in f32 in the order of the
    /// PyTorch reference (tools/peers/torch_families.py). Every draw comes from the seed.
    func diffuse(_ denoiser: SampleGraph.Denoiser, session: Session, feeds: [String: TensorValue]) throws -> TensorValue {
        let shape = denoiser.canvas.shape, count = shape[0], n = shape.count
        let schedule = denoiser.schedule
        guard case .input(let canvasName) = denoiser.canvas.node.op else { throw GraphError(op: "sample", "the canvas is not an input") }
        let key = mix64(config.seed ^ 0x4449_4646_5553_45)
        var ctx = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
        /// The draw for step t (0: the starting noise): its own stretch of one counter-based stream.
        func normal(step t: Int) throws -> [Float] {
            var z = [Float](repeating: 0, count: n)
            try check(gg_rand_normal_f32(&ctx, &z, Int64(n), key, UInt64(t) * UInt64(n)), "sample")
            return z
        }
        var x = try normal(step: 0)
        func predictedNoise(_ t: Int) throws -> [Float] {
            var run = feeds
            run[canvasName] = try TensorValue(shape: shape, scalars: x)
            run[SampleGraph.Denoiser.timeInputName] = try TensorValue(shape: [count], scalars: [Float](repeating: Float(t), count: count))
            return try session.run([denoiser.noise], feeds: run)[0].scalars
        }
        switch diffusion ?? .ddim(steps: DiffusionSampling.standardSteps) {
        case .ddim(let steps):
            let times = try schedule.ddimTimes(steps)
            for (t, earlier) in zip(times, times.dropFirst()) {
                let eps = try predictedNoise(t)
                let (alphaBar, alphaBarEarlier) = (schedule.alphaBars[t], schedule.alphaBars[earlier])
                let (signal, noise) = (alphaBar.squareRoot(), (1 - alphaBar).squareRoot())
                let (signalEarlier, noiseEarlier) = (alphaBarEarlier.squareRoot(), (1 - alphaBarEarlier).squareRoot())
                for i in 0..<n {
                    let x0 = (x[i] - noise * eps[i]) / signal
                    x[i] = signalEarlier * x0 + noiseEarlier * eps[i]
                }
            }
        case .ddpm:
            for t in stride(from: schedule.steps, through: 1, by: -1) {
                let eps = try predictedNoise(t)
                let (beta, alphaBar) = (schedule.betas[t], schedule.alphaBars[t])
                let (epsScale, keep) = (beta / (1 - alphaBar).squareRoot(), (1 - beta).squareRoot())
                for i in 0..<n { x[i] = (x[i] - epsScale * eps[i]) / keep }
                if t > 1 {
                    let z = try normal(step: t), sigma = beta.squareRoot()
                    for i in 0..<n { x[i] += sigma * z[i] }
                }
            }
        }
        let range = definition.encoding.range
        return try TensorValue(shape: shape, scalars: x.map { Swift.min(Swift.max($0, range.lowerBound), range.upperBound) })
    }
}
