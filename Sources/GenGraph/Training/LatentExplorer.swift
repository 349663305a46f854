/// Walks the latent space of a VAE-family model: its `encode_mu` and `decode`
/// functions (conditional models pass labels to both).
public struct LatentExplorer {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    let conditional: Bool

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig) throws {
        for name in ["encode_mu", "decode"] where definition.function(named: name) == nil {
            throw GraphError(op: "latent", "model '\(definition.name)' has no '\(name)' function (the VAE family has)")
        }
        self.definition = definition
        self.parameters = parameters
        self.config = config
        conditional = definition.function(named: "decode")!.parameters.count == 2
    }

    /// The mean codes of images ((n, 1, 28, 28) in the model's range) with their labels.
    public func encode(_ images: [Float], labels: [Int]) throws -> (codes: [Float], latent: Int) {
        let n = labels.count
        let g = Graph()
        let x = try g.input("x", [n, 1, 28, 28])
        let y = conditional ? try g.input("y", [n]) : nil
        let mu = try definition.call("encode_mu", [x] + (y.map { [$0] } ?? []))
        let value = try Session(graph: g, config: config, parameters: parameters)
            .run([mu], feeds: feeds(["x": try TensorValue(shape: [n, 1, 28, 28], scalars: images)], labels))[0]
        return (value.scalars, mu.shape[1])
    }

    /// Images decoded from codes ((n, latent) row-major), as probabilities in [0, 1].
    public func decode(_ codes: [Float], latent: Int, labels: [Int]) throws -> TensorValue {
        let n = labels.count
        let g = Graph()
        let z = try g.input("z", [n, latent])
        let y = conditional ? try g.input("y", [n]) : nil
        let images = try definition.call("decode", [z] + (y.map { [$0] } ?? [])).sigmoid().reshape([n, 1, 28, 28])
        return try Session(graph: g, config: config, parameters: parameters)
            .run([images], feeds: feeds(["z": try TensorValue(shape: [n, latent], scalars: codes)], labels))[0]
    }

    private func feeds(_ base: [String: TensorValue], _ labels: [Int]) throws -> [String: TensorValue] {
        var feeds = base
        if conditional {
            // A label outside the classes would one-hot to nothing and decode silently wrong.
            if let bad = labels.first(where: { !(0..<definition.classes).contains($0) }) {
                throw GraphError(op: "latent", "label \(bad) is not a class of '\(definition.name)' (0..<\(definition.classes))")
            }
            feeds["y"] = try TensorValue(shape: [labels.count], scalars: labels.map(Float.init))
        }
        return feeds
    }

    /// Refuses paths too long to decode at once, or ranges that are no finite distance.
    private func checkPath(steps: Int, range: Float = 1) throws {
        try RunLimits.check(steps, in: 2...RunLimits.pathSteps, "steps")
        guard range.isFinite, range > 0 else { throw GraphError(op: "latent", "the range must be a finite number > 0, got \(range)") }
    }

    /// Latent perturbation: one row per latent dimension, `steps` images varying
    /// that dimension over [-range, range] around `code` with the others fixed.
    public func traversal(code: [Float], label: Int, steps: Int, range: Float) throws -> TensorValue {
        try checkPath(steps: steps, range: range)
        let latent = code.count
        var codes: [Float] = []
        for d in 0..<latent {
            for s in 0..<steps {
                var c = code
                c[d] = -range + 2 * range * Float(s) / Float(max(steps - 1, 1))
                codes += c
            }
        }
        return try decode(codes, latent: latent, labels: [Int](repeating: label, count: latent * steps))
    }

    /// `steps` images decoded along the straight line between two codes.
    public func interpolation(from a: [Float], to b: [Float], label: Int, steps: Int) throws -> TensorValue {
        try checkPath(steps: steps)
        var codes: [Float] = []
        for s in 0..<steps {
            let t = Float(s) / Float(max(steps - 1, 1))
            codes += zip(a, b).map { $0 + t * ($1 - $0) }
        }
        return try decode(codes, latent: a.count, labels: [Int](repeating: label, count: steps))
    }
}
