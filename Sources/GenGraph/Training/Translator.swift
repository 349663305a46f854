import Foundation

/// Translates images between a trained model's domains (CycleGAN's sneakers and ankle boots)
/// with the function its `translate` line names.
public struct Translator {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let config: RunConfig
    /// Images at a time through the network: bounds memory, changes no result.
    let chunk = 500

    public init(definition: ModelDefinition, parameters: ParameterStore, config: RunConfig) {
        self.definition = definition
        self.parameters = parameters
        self.config = config
    }

    /// The translation from the domain whose images input is `source`.
    public func translation(from source: String) throws -> Translation {
        guard let t = definition.translations.first(where: { $0.source == source }) else {
            let known = definition.translations.map(\.source)
            throw GraphError(op: "translate", "model '\(definition.name)' "
                             + (known.isEmpty ? "translates no domains" : "translates from \(known.joined(separator: " or ")), not from '\(source)'"))
        }
        return t
    }

    /// The domain whose images input is `input`.
    public func domain(_ input: String) throws -> ImageDomain {
        guard let d = definition.domains.first(where: { $0.input == input }) else {
            throw GraphError(op: "translate", "model '\(definition.name)' has no domain '\(input)'")
        }
        return d
    }

    /// `images` ((n, 1, 28, 28), one after another, in the model's pixel range) translated from
    /// `source`'s domain, in the same order.
    public func translate(_ images: [Float], from source: String) throws -> [Float] {
        let function = try translation(from: source).function
        let pixels = 784
        guard images.count % pixels == 0, !images.isEmpty else {
            throw GraphError(op: "translate", "expected whole 1 x 28 x 28 images, got \(images.count) values")
        }
        let count = images.count / pixels
        var sessions: [Int: (session: Session, output: Tensor)] = [:]
        var translated: [Float] = []
        translated.reserveCapacity(images.count)
        for start in stride(from: 0, to: count, by: chunk) {
            let n = min(chunk, count - start)
            if sessions[n] == nil {
                let g = Graph()
                let output = try definition.call(function, [try g.input("x", [n, 1, 28, 28])])
                guard output.shape == [n, 1, 28, 28] else {
                    throw GraphError(op: "translate", "'\(function)' gives \(output.shape) for \(n) images; expected [\(n), 1, 28, 28]")
                }
                sessions[n] = (try Session(graph: g, config: config, parameters: parameters), output)
            }
            let (session, output) = sessions[n]!
            let slice = Array(images[(start * pixels)..<((start + n) * pixels)])
            translated += try session.run([output], feeds: ["x": try TensorValue(shape: [n, 1, 28, 28], scalars: slice)])[0].scalars
        }
        return translated
    }

    /// A split's images of `input`'s domain, in file order, encoded as the model sees them.
    public func images(of input: String, in split: MNISTSplit) throws -> [Float] {
        let label = try domain(input).label
        let selected = split.selecting(label: label)
        guard selected.count > 0 else { throw GraphError(op: "translate", "the split holds no images of class \(label) (domain '\(input)')") }
        return selected.images(definition.encoding)
    }
}
