import Foundation

/// Judges generated images with a trained classifier (zoo.md's `classifier`,
/// or any model with `features` and `logits` functions): FD-FMNIST, the
/// Fréchet distance between the classifier's features of generated and of
/// real test images, and the classifier's accuracy on samples drawn for a
/// given class (conditional models).
public struct Judge {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    let planCache = PlanCache()
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
        let outputs = try run("features", images, range: range)
        return (outputs.values, outputs.width)
    }

    /// The class the classifier gives each image ((n, 1, 28, 28), values in `range`).
    public func classify(_ images: [Float], range: ClosedRange<Float>) throws -> [Int] {
        let (logits, classes) = try run("logits", images, range: range)
        return stride(from: 0, to: logits.count, by: classes).map { start in
            let row = logits[start..<(start + classes)]
            return row.indices.max { row[$0] < row[$1] }! - start
        }
    }

    /// Feature statistics of a split's images.
    public func statistics(of split: MNISTSplit) throws -> FeatureStatistics {
        let table = definition.encoding.table
        let images = split.pixels.map { table[Int($0)] }
        let (values, dimension) = try features(images, range: definition.encoding.range)
        return try FeatureStatistics(features: values, dimension: dimension)
    }

    /// Runs one of the classifier's functions over the images in batches, after
    /// mapping them linearly from `range` onto the classifier's own pixel range.
    private func run(_ function: String, _ images: [Float], range: ClosedRange<Float>) throws -> (values: [Float], width: Int) {
        let pixels = 784
        guard images.count % pixels == 0, !images.isEmpty else {
            throw GraphError(op: "judge", "expected whole 1 x 28 x 28 images, got \(images.count) values")
        }
        let target = definition.encoding.range
        let scale = (target.upperBound - target.lowerBound) / (range.upperBound - range.lowerBound)
        let count = images.count / pixels
        var values: [Float] = []
        var width = 0
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let g = Graph()
            let x = try g.input("x", [n, 1, 28, 28])
            let output = try definition.call(function, [x])
            guard output.rank == 2, output.shape[0] == n else {
                throw GraphError(op: "judge", "'\(function)' gives \(output.shape) for \(n) images; expected (\(n), width)")
            }
            width = output.shape[1]
            let slice = images[(start * pixels)..<((start + n) * pixels)].map { ($0 - range.lowerBound) * scale + target.lowerBound }
            let session = try Session(graph: g, config: config, parameters: parameters, planCache: planCache)
            values += try session.run([output], feeds: ["x": try TensorValue(shape: [n, 1, 28, 28], scalars: slice)])[0].scalars
            start += n
        }
        return (values, width)
    }
}
