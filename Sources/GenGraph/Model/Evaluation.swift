/// A graph computing a model's test metrics on one batch (batch norm on running statistics).
/// A per-example metric (shape [batch]) is averaged over the test set, a scalar one over batches.
public struct EvaluationGraph {
    public struct Metric {
        public let name: String
        /// Shape [batch] (one value per example) or [] (one value per batch).
        public let value: Tensor

        public init(name: String, value: Tensor) {
            self.name = name
            self.value = value
        }

        /// Whether the metric has one value per example rather than one per batch.
        public var isPerExample: Bool { value.rank == 1 }
    }

    public let graph: Graph
    public let batchSize: Int
    /// Images, (batch, 1, 28, 28), an input named like the model's images ("x").
    public let images: Tensor
    /// Integer class labels, (batch), for models with a labels input ("y").
    public let labels: Tensor?
    /// In declaration order.
    public let metrics: [Metric]

    /// The metric called `name`.
    public func metric(named name: String) -> Metric? { metrics.first { $0.name == name } }
}

/// A function of a model (a `.gg` file's `def` or `network`, or its Swift zoo twin) that builds
/// into a caller's graph with the model's parameter names and hyper-parameters, so a session
/// holding the model's parameters (a checkpoint) can run it: a VAE's `decode`, a classifier's
/// `features`, a GAN's `G`.
///
///     let z = try graph.input("z", [16, 20])
///     let logits = try definition.call("decode", [z])
public struct ModelFunction {
    public let name: String
    /// The argument names, such as ["z", "y"].
    public let parameters: [String]
    /// Whether it is a `network` (its parameters are named `<name>.<layer>...`).
    public let isNetwork: Bool
    let body: (_ graph: Graph, _ arguments: [Tensor], _ training: Bool) throws -> Tensor
    /// The model's parameter shapes by name (its training graph's), which a call's parameters must match.
    var modelParameters: (() throws -> (model: String, shapes: [String: Shape]))?

    init(name: String, parameters: [String], isNetwork: Bool = false,
         body: @escaping (_ graph: Graph, _ arguments: [Tensor], _ training: Bool) throws -> Tensor) {
        self.name = name
        self.parameters = parameters
        self.isNetwork = isNetwork
        self.body = body
    }

    /// Builds the function on `arguments` into their graph (`graph` must be given when there are
    /// none); batch norm uses running statistics unless `training`. Throws when the parameters it
    /// declares differ from the model's (a wrongly sized argument), so a checkpoint always fits.
    public func callAsFunction(_ arguments: [Tensor], in graph: Graph? = nil, training: Bool = false) throws -> Tensor {
        guard arguments.count == parameters.count else {
            throw GraphError(op: name, "takes \(parameters.count) argument\(parameters.count == 1 ? "" : "s") (\(parameters.joined(separator: ", "))), got \(arguments.count)")
        }
        guard let target = graph ?? arguments.first?.graph else {
            throw GraphError(op: name, "a function without arguments needs the graph to build into")
        }
        for t in arguments where t.graph !== target {
            throw GraphError(op: name, "argument %\(t.id) belongs to another graph")
        }
        let start = target.nodes.count
        let result = try body(target, arguments, training)
        if let modelParameters {
            let (model, shapes) = try modelParameters()
            for t in target.parameters where t.id >= start {
                guard case .parameter(let parameter) = t.node.op else { continue }
                guard let shape = shapes[parameter] else {
                    throw GraphError(op: name, "declares '\(parameter)', which is not a parameter of model '\(model)' (its training graph has no such layer)")
                }
                if shape != t.shape {
                    throw GraphError(op: name, "'\(parameter)' has shape \(t.shape) here but \(shape) in model '\(model)'")
                }
            }
        }
        return result
    }
}
