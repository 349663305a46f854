import Foundation

/// Judges generated images with a trained classifier (docs/zoo.md's `classifier`,
/// or any model with `features` and `logits` functions): FD-FMNIST, the
/// Fréchet distance between the classifier's features of generated and of
/// real test images, and the classifier's accuracy on samples drawn for a
/// given class (conditional models).
public struct Judge {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    /// Images at a time through the classifier.
    let batch = 500

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig) throws {
        for name in ["features", "logits"] where definition.function(named: name) == nil {
            throw GraphError(op: "judge", "model '\(definition.name)' has no '\(name)' function; the judge is a trained `classifier` run")
        }
        self.definition = definition
        self.parameters = parameters
        self.config = config
    }

    /// The classifier's feature vectors of `images` ((n, 1, 28, 28), values in `range`),
    /// row after row, and their width.
    public func features(_ images: [Float], range: ClosedRange<Float>) throws -> (values: [Float], dimension: Int) {
        let outputs = try run(["features"], images, range: range)[0]
        return (outputs.values, outputs.width)
    }

    /// The features of `images` and the class the classifier gives each, from one pass.
    public func featuresAndClasses(_ images: [Float], range: ClosedRange<Float>)
        throws -> (features: [Float], dimension: Int, classes: [Int]) {
        let outputs = try run(["features", "logits"], images, range: range)
        let (logits, classes) = (outputs[1].values, outputs[1].width)
        let predicted = stride(from: 0, to: logits.count, by: classes).map { start in
            let row = logits[start..<(start + classes)]
            return row.indices.max { row[$0] < row[$1] }! - start
        }
        return (outputs[0].values, outputs[0].width, predicted)
    }

    /// Feature statistics of a split's images.
    public func statistics(of split: MNISTSplit) throws -> FeatureStatistics {
        let images = split.images(definition.encoding)
        let (values, dimension) = try features(images, range: definition.encoding.range)
        return try FeatureStatistics(features: values, dimension: dimension)
    }

    /// Runs the classifier's `functions` over the images in batches (one graph, so shared
    /// layers run once), after mapping them linearly from `range` onto the classifier's own
    /// pixel range. One session per batch size.
    private func run(_ functions: [String], _ images: [Float], range: ClosedRange<Float>) throws -> [(values: [Float], width: Int)] {
        let pixels = 784
        guard images.count % pixels == 0, !images.isEmpty else {
            throw GraphError(op: "judge", "expected whole 1 x 28 x 28 images, got \(images.count) values")
        }
        let target = definition.encoding.range
        let scale = (target.upperBound - target.lowerBound) / (range.upperBound - range.lowerBound)
        let count = images.count / pixels
        var sessions: [Int: (session: Session, outputs: [Tensor])] = [:]
        func session(_ n: Int) throws -> (session: Session, outputs: [Tensor]) {
            if let s = sessions[n] { return s }
            let g = Graph()
            let x = try g.input("x", [n, 1, 28, 28])
            let outputs = try functions.map { f -> Tensor in
                let output = try definition.call(f, [x])
                guard output.rank == 2, output.shape[0] == n else {
                    throw GraphError(op: "judge", "'\(f)' gives \(output.shape) for \(n) images; expected (\(n), width)")
                }
                return output
            }
            let s = (try Session(graph: g, config: config, parameters: parameters), outputs)
            sessions[n] = s
            return s
        }
        var results = functions.map { _ in (values: [Float](), width: 0) }
        for start in stride(from: 0, to: count, by: batch) {
            let n = min(batch, count - start)
            let (s, outputs) = try session(n)
            let slice = images[(start * pixels)..<((start + n) * pixels)].map { ($0 - range.lowerBound) * scale + target.lowerBound }
            let values = try s.run(outputs, feeds: ["x": try TensorValue(shape: [n, 1, 28, 28], scalars: slice)])
            for k in functions.indices {
                results[k].values += values[k].scalars
                results[k].width = outputs[k].shape[1]
            }
        }
        return results
    }
}
