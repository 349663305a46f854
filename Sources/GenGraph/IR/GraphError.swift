/// An error in building, differentiating or running a graph: which op, and what is wrong.
public struct GraphError: Error, CustomStringConvertible, Hashable, Sendable {
    public let op: String
    public let message: String
    /// Where the failing node came from (`Node.origin`, such as `vae.gg:12:5`), for errors that
    /// only a run finds (a label outside its classes): the model's line, not just the op.
    public var origin: String?

    public init(op: String, _ message: String, origin: String? = nil) {
        self.op = op
        self.message = message
        self.origin = origin
    }

    public var description: String { (origin.map { "\($0): " } ?? "") + "\(op): \(message)" }

    /// This error at `origin`, unless it already has one.
    func located(at origin: String?) -> GraphError {
        var located = self
        located.origin = self.origin ?? origin
        return located
    }
}
