/// DDPM's schedule lookup for training and its sampler (`ddpm.gg`).
extension Builtin {
    /// The schedule's arguments, shared by both: `steps` noise levels, betas linear between the two.
    private static let scheduleParameters = [ParameterSpec("steps"), ParameterSpec("beta_start"), ParameterSpec("beta_end")]

    private static func schedule(_ a: Arguments) throws -> DiffusionSchedule {
        try DiffusionSchedule(steps: a.integer("steps", atLeast: 1), betaStart: a.number("beta_start", .fraction),
                              betaEnd: a.number("beta_end", .fraction))
    }

    static let diffusion: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        table["alpha_bar"] = Builtin([ParameterSpec("t")] + scheduleParameters) { a, _ in
            .tensor(try a.tensor("t").alphaBar(schedule(a)))
        }
        table["diffusion"] = Builtin([ParameterSpec("noise")] + scheduleParameters) { a, c in
            guard let canvas = c.canvas else {
                throw Diagnostic("'diffusion' is only allowed as the result of a 'sample'", at: a.location)
            }
            let schedule = try schedule(a)
            let input = try c.graph.input(canvas.name, canvas.shape)
            let time = try c.graph.input(SampleGraph.Denoiser.timeInputName, [canvas.shape[0]])
            let function = try a.function("noise")
            guard case .tensor(let noise) = try c.apply(function, [.tensor(input), .tensor(time)]) else {
                throw Diagnostic("'\(function)' must return a tensor, the predicted noise", at: a.location)
            }
            guard noise.shape == input.shape else {
                throw Diagnostic("the predicted noise has shape \(noise.shape), the images \(input.shape)", at: a.location)
            }
            return .diffusion(SampleGraph.Denoiser(canvas: input, time: time, noise: noise, schedule: schedule))
        }
        return table
    }()
}
