/// How a parameter starts.
public enum Initializer: Hashable, Sendable {
    case zeros
    case ones
    /// Every element `value` (a layer's `init=` in the DSL: RealNVP's zero last conv, its scale of 1).
    case constant(Float)
    case uniform(low: Float, high: Float)
    case normal(mean: Float, std: Float)

    /// PyTorch's `nn.Linear`/`nn.Conv2d` default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    public static func fanIn(_ fanIn: Int) -> Initializer {
        let bound = 1 / Float(fanIn).squareRoot()
        return .uniform(low: -bound, high: bound)
    }
}
