/// An error in building, differentiating or running a graph: which op, and what is wrong.
public struct GraphError: Error, CustomStringConvertible, Equatable {
    public let op: String
    public let message: String

    public init(op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}
