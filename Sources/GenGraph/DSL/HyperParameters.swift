import Foundation

/// Resolves a model's `hyper` declarations in order, applying overrides given
/// as text (`["latent": "32"]`, from the CLI's `--set latent=32`). A default
/// may use earlier hyper-parameters, so overriding one moves those defined from it.
struct HyperResolution {
    let parameters: [HyperParameter]
    /// Where each value came from, by name.
    let origins: [String: HyperOrigin]

    /// The values by name, as lowering reads them.
    let values: [String: Value]

    init(_ model: ModelDeclaration, overrides: [String: String]) throws {
        var resolved: [HyperParameter] = []
        var origins: [String: HyperOrigin] = [:]
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
            let origin = HyperOrigin(name: name, location: expression.location, override: overrides[name])
            try HyperResolution.checkRole(parameter.value, origin)
            resolved.append(parameter)
            origins[name] = origin
            scope[name] = parameter.value.number
        }
        let known = Set(resolved.map(\.name))
        if let unknown = overrides.keys.sorted().first(where: { !known.contains($0) }) {
            let names = resolved.map(\.name).joined(separator: ", ")
            throw Diagnostic("unknown hyper-parameter '\(unknown)' (this model has \(names.isEmpty ? "none" : names))", at: model.location)
        }
        parameters = resolved
        values = scope
        self.origins = origins
    }

    /// Hyper-parameters the engine itself reads (docs/dsl.md), and the integers they may be.
    private static let roles: [String: (range: ClosedRange<Int>, meaning: String)] = [
        "batch": (1...Shape.maxElements, "the batch size"),
        "epochs": (1...RunLimits.epochs, "how many epochs to train"),
    ]

    /// Checks a value of `batch` or `epochs` wherever it came from: the model, --set, or a flag.
    private static func checkRole(_ value: HyperParameter.Value, _ origin: HyperOrigin) throws {
        guard let role = roles[origin.name] else { return }
        if case .integer(let n) = value, role.range.contains(n) { return }
        throw Diagnostic("\(origin.describe(value.number)) is \(role.meaning), which must be an integer in "
                         + "\(role.range.lowerBound)...\(role.range.upperBound)", at: origin.location)
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

extension HyperParameter.Value {
    /// The value as lowering sees it.
    var number: Value {
        switch self {
        case .integer(let v): return .integer(v)
        case .real(let v): return .real(v)
        }
    }
}

/// Where a hyper-parameter's value came from, for errors about it.
struct HyperOrigin {
    let name: String
    /// Its default's expression in the model; errors about an override point there too.
    let location: SourceLocation
    /// The text of `--set name=TEXT`, when the value was overridden.
    let override: String?

    /// `hyper-parameter 'lr' = -1.0 (from --set lr=-1)`.
    func describe(_ value: Value) -> String {
        let text: String
        switch value {
        case .integer(let v): text = "\(v)"
        case .real(let v): text = "\(v)"
        default: text = value.kindDescription
        }
        return "hyper-parameter '\(name)' = \(text)" + (override.map { " (from --set \(name)=\($0))" } ?? "")
    }
}
