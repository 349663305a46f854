/// An images input fed with one class of the data only: an unpaired domain (CycleGAN's
/// sneakers and ankle boots). Each domain visits its images in an order of its own.
public struct ImageDomain: Equatable, Sendable {
    /// The images input it feeds ("a").
    public let input: String
    /// The class whose images it holds.
    public let label: Int

    public init(input: String, label: Int) {
        self.input = input
        self.label = label
    }
}

/// How a model turns one domain's images into another's: one of its functions (CycleGAN's G_AB).
public struct Translation: Equatable, Sendable {
    /// The domains' images inputs, such as "a" and "b".
    public let source: String
    public let target: String
    /// A function of the model taking images of `source` to images of `target`.
    public let function: String

    public init(source: String, target: String, function: String) {
        self.source = source
        self.target = target
        self.function = function
    }
}
