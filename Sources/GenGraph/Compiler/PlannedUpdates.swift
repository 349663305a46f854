/// Optimiser updates a compiled training step applies itself. Each parameter
/// is updated as soon as its gradient is complete and no later kernel reads
/// the parameter, so a gradient's memory goes back to the arena for the rest
/// of the step instead of staying live until the end: the arena holds a few
/// gradients at a time, not all of them. Parameters whose updates fall at the
/// same point of the schedule share one multi-tensor kernel. The arithmetic is
/// the optimiser's own (`gg_*_multi_f32`), so parameters match an update
/// applied after the step bit for bit.
public struct PlannedUpdates: Hashable {
    public let rule: OptimizerRule
    public let clip: ClosedRange<Float>?
    /// Program outputs holding the gradients (consumed by the updates, not returned)...
    public let gradientOutputs: [Int]
    /// ...of these parameters, by leaf name.
    public let parameters: [String]

    public init(rule: OptimizerRule, clip: ClosedRange<Float>?, gradientOutputs: [Int], parameters: [String]) {
        self.rule = rule
        self.clip = clip
        self.gradientOutputs = gradientOutputs
        self.parameters = parameters
    }

    /// The leaf name a plan binds a parameter's optimiser slot under ("@" appears in no parameter name).
    public static func slotLeaf(_ parameter: String, _ slot: String) -> String { "\(parameter)@\(slot)" }

    /// What distinguishes two plans of the same program (the plan cache's key).
    var key: String {
        "updates \(rule) clip \(clip.map { "\($0)" } ?? "none") " + zip(gradientOutputs, parameters).map { "\($0)=\($1)" }.joined(separator: " ")
    }
}
