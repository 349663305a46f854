/// Optimiser updates a compiled training step applies itself. Each parameter
/// is updated as soon as its gradient is complete and no later kernel reads
/// the parameter, so a gradient's memory goes back to the arena for the rest
/// of the step instead of staying live until the end: the arena holds a few
/// gradients at a time, not all of them. Parameters whose updates fall at the
/// same point of the schedule share one multi-tensor kernel. The arithmetic is
/// the optimiser's own (`gg_*_multi_f32`), so parameters match an update
/// applied after the step bit for bit.
///
/// With `replicas` > 1 (data-parallel training, one replica per MPI rank) the
/// gradients are first averaged across ranks: they are packed into buckets, each
/// bucket's all-reduce starts as soon as its gradients are complete and runs
/// while the backward pass goes on, and is awaited before the bucket's updates,
/// which then come at the end of the step.
public struct PlannedUpdates: Hashable {
    public let rule: OptimizerRule
    public let clip: ClosedRange<Float>?
    /// Program outputs holding the gradients (consumed by the updates, not returned)...
    public let gradientOutputs: [Int]
    /// ...of these parameters, by leaf name.
    public let parameters: [String]
    /// Ranks whose gradients are averaged before the updates (1: none).
    public let replicas: Int

    public init(rule: OptimizerRule, clip: ClosedRange<Float>?, gradientOutputs: [Int], parameters: [String], replicas: Int = 1) {
        self.rule = rule
        self.clip = clip
        self.gradientOutputs = gradientOutputs
        self.parameters = parameters
        self.replicas = replicas
    }

    /// The leaf name a plan binds a parameter's optimiser slot under ("@" appears in no parameter name).
    public static func slotLeaf(_ parameter: String, _ slot: String) -> String { "\(parameter)@\(slot)" }

    /// What distinguishes two plans of the same program (the plan cache's key).
    var key: String {
        "updates \(rule) clip \(clip.map { "\($0)" } ?? "none") replicas \(replicas) " + zip(gradientOutputs, parameters).map { "\($0)=\($1)" }.joined(separator: " ")
    }
}
