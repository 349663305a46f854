/// DDPM's noise schedule (Ho et al. 2020; docs/zoo.md, `ddpm`): betas linear from
/// `betaStart` to `betaEnd` over t = 1...steps, indexed from t = 0 with beta_0 = 0 and
/// abar_0 = 1 (the clean image), so that a sampler's last step needs no special case.
/// Computed in f64 and rounded once, as the project's PyTorch reference does.
public struct DiffusionSchedule: Hashable, Sendable {
    /// The most noise levels a schedule may have (each is a row of a one-hot lookup).
    public static let maximumSteps = 100_000

    public let steps: Int
    /// beta_t for t = 0...steps.
    public let betas: [Float]
    /// abar_t = prod_{s <= t} (1 - beta_s) for t = 0...steps.
    public let alphaBars: [Float]

    public init(steps: Int, betaStart: Double, betaEnd: Double) throws {
        guard (1...Self.maximumSteps).contains(steps) else {
            throw GraphError(op: "diffusion", "the number of noise levels must be in 1...\(Self.maximumSteps), got \(steps)")
        }
        guard betaStart > 0, betaStart <= betaEnd, betaEnd < 1 else {
            throw GraphError(op: "diffusion", "betas must satisfy 0 < beta_start <= beta_end < 1, got \(betaStart) and \(betaEnd)")
        }
        // torch.linspace's two-sided formula: exact at both ends; one level is beta_start, as there.
        let step = steps == 1 ? 0 : (betaEnd - betaStart) / Double(steps - 1)
        let linear = (0..<steps).map { i in
            i < steps / 2 || steps == 1 ? betaStart + Double(i) * step : betaEnd - Double(steps - 1 - i) * step
        }
        var alphaBar = 1.0, alphaBars: [Double] = [1]
        for beta in linear {
            alphaBar *= 1 - beta
            alphaBars.append(alphaBar)
        }
        self.steps = steps
        betas = ([0] + linear).map(Float.init)
        self.alphaBars = alphaBars.map(Float.init)
    }

    /// The time steps of DDIM over `count` steps: floor(k T / count) for k = count ... 0.
    public func ddimTimes(_ count: Int) throws -> [Int] {
        guard (1...steps).contains(count) else {
            throw GraphError(op: "diffusion", "DDIM takes 1...\(steps) steps (the schedule's noise levels), got \(count)")
        }
        return (0...count).reversed().map { $0 * steps / count }
    }
}

extension Tensor {
    /// abar_t of `schedule` at integer-valued times t (n) in 0...steps, shape (n): a one-hot
    /// row times the schedule's table. A time outside the schedule is an error when run.
    public func alphaBar(_ schedule: DiffusionSchedule) throws -> Tensor {
        guard rank == 1 else { throw GraphError(op: "alpha_bar", "needs times (n), got \(shape)") }
        let table = try graph.constant(ConstantData(name: "alpha_bar", values: schedule.alphaBars), [schedule.steps + 1, 1])
        // The lookup's one-hot rows are the times: a run that meets one outside says so in alpha_bar's terms.
        let outOfRange = GraphError(op: "alpha_bar", "t has a value outside 0...\(schedule.steps) (integer time steps of the schedule)")
        return try oneHot(depth: schedule.steps + 1, outOfRange: outOfRange).matmul(table).reshape([shape[0]])
    }
}
