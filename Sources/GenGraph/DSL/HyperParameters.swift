import Foundation

/// Resolves a model's `hyper` declarations in order, applying overrides given
/// as text (`["latent": "32"]`, from the CLI's `--set latent=32`). A default
/// may use earlier hyper-parameters, so overriding one moves those defined from it.
struct HyperResolution {
    let parameters: [HyperParameter]

    var values: [String: Value] {
        Dictionary(uniqueKeysWithValues: parameters.map { p -> (String, Value) in
            switch p.value {
            case .integer(let v): return (p.name, .integer(v))
            case .real(let v): return (p.name, .real(v))
            }
        })
    }

    init(_ model: ModelDeclaration, overrides: [String: String]) throws {
        var resolved: [HyperParameter] = []
        var scope: [String: Value] = [:]
        // Hyper-parameter defaults are numbers; lowering one touches no graph, but Lowering needs one.
        let lowering = Lowering(graph: Graph(), hypers: [:], functions: [:], layerNames: [:], initScheme: .torch,
                                training: true, canvas: nil)
        for case .hyper(let name, let expression, let location) in model.declarations {
            if scope[name] != nil { throw Diagnostic("hyper-parameter '\(name)' is declared twice", at: location) }
            let value: HyperParameter.Value
            switch try lowering.evaluate(expression, scope: scope) {
            case .integer(let v): value = .integer(v)
            case .real(let v): value = .real(v)
            case let other: throw Diagnostic("hyper-parameter '\(name)' must be a number, got \(other.kindDescription)", at: expression.location)
            }
            var parameter = HyperParameter(name: name, value: value, isOverridden: false)
            if let text = overrides[name] {
                parameter = HyperParameter(name: name, value: try HyperResolution.parse(text, like: value, name: name, at: expression.location),
                                           isOverridden: true)
            }
            resolved.append(parameter)
            switch parameter.value {
            case .integer(let v): scope[name] = .integer(v)
            case .real(let v): scope[name] = .real(v)
            }
        }
        let known = Set(resolved.map(\.name))
        if let unknown = overrides.keys.sorted().first(where: { !known.contains($0) }) {
            let names = resolved.map(\.name).joined(separator: ", ")
            throw Diagnostic("unknown hyper-parameter '\(unknown)' (this model has \(names.isEmpty ? "none" : names))", at: model.location)
        }
        parameters = resolved
    }

    /// An override keeps its default's kind: an integer stays an integer (it may size a layer).
    private static func parse(_ text: String, like value: HyperParameter.Value, name: String,
                              at location: SourceLocation) throws -> HyperParameter.Value {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch value {
        case .integer:
            guard let v = Int(trimmed) else {
                throw Diagnostic("hyper-parameter '\(name)' must be an integer, got '\(text)'", at: location)
            }
            return .integer(v)
        case .real:
            guard let v = Double(trimmed), v.isFinite else {
                throw Diagnostic("hyper-parameter '\(name)' must be a number, got '\(text)'", at: location)
            }
            return .real(v)
        }
    }
}
