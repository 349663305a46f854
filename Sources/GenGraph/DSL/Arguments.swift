/// A built-in's parameter: required, optional (absent means "not given"), or with a default;
/// a keyword-only one is given by name alone (`init=0`), never by position.
struct ParameterSpec {
    enum Default {
        case required
        case optional
        case value(Value)
    }

    let name: String
    let defaultValue: Default
    let isKeywordOnly: Bool

    init(_ name: String, _ defaultValue: Default = .required, keywordOnly: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        isKeywordOnly = keywordOnly
    }
}

/// One evaluated argument of a call, and the hyper-parameter it is when it is exactly one.
struct ArgumentValue {
    let label: String?
    let value: Value
    let location: SourceLocation
    var hyper: HyperOrigin?
}

/// What a numeric argument may be; `description` completes "must be ...".
struct NumberRange {
    let description: String
    let contains: (Double) -> Bool

    static let any = NumberRange(description: "a number") { _ in true }
    /// Learning rates.
    static let positive = NumberRange(description: "a number > 0") { $0 > 0 }
    static let nonNegative = NumberRange(description: "a number >= 0") { $0 >= 0 }
    /// Decay rates and momentum: at 1 an average never moves, above it diverges.
    static let fraction = NumberRange(description: "a number in [0, 1)") { $0 >= 0 && $0 < 1 }
    static let probability = NumberRange(description: "a number in [0, 1]") { $0 >= 0 && $0 <= 1 }
}

/// The arguments of one call bound to a built-in's parameters, with typed
/// accessors whose errors point at the offending argument (or, for an argument
/// that is a hyper-parameter, at that hyper-parameter).
struct Arguments {
    let callee: String
    let location: SourceLocation
    let graph: Graph
    private var bound: [String: ArgumentValue] = [:]
    /// Extra positional arguments of a variadic built-in (concat's tensors).
    private(set) var rest: [ArgumentValue] = []

    init(callee: String, location: SourceLocation, graph: Graph, specs: [ParameterSpec], variadic: Bool,
         values: [ArgumentValue]) throws {
        self.callee = callee
        self.location = location
        self.graph = graph
        let positional = specs.filter { !$0.isKeywordOnly }
        var position = 0
        for v in values {
            if let label = v.label {
                guard specs.contains(where: { $0.name == label }) else {
                    let known = specs.map(\.name).joined(separator: ", ")
                    throw Diagnostic("'\(callee)' has no argument '\(label)' (it takes \(known.isEmpty ? "none" : known))", at: v.location)
                }
                if bound[label] != nil { throw Diagnostic("argument '\(label)' of '\(callee)' given twice", at: v.location) }
                bound[label] = v
            } else if variadic {
                rest.append(v)
            } else {
                guard position < positional.count else {
                    throw Diagnostic("'\(callee)' takes at most \(positional.count) argument\(positional.count == 1 ? "" : "s"), got \(values.filter { $0.label == nil }.count)",
                                     at: v.location)
                }
                bound[positional[position].name] = v
                position += 1
            }
        }
        for spec in specs where bound[spec.name] == nil {
            switch spec.defaultValue {
            case .required: throw Diagnostic("'\(callee)' is missing its argument '\(spec.name)'", at: location)
            case .optional: break
            case .value(let v): bound[spec.name] = ArgumentValue(label: nil, value: v, location: location)
            }
        }
    }

    func has(_ name: String) -> Bool { bound[name] != nil }

    /// The argument bound to `name`; an absent optional one is reported as missing.
    func value(_ name: String) throws -> ArgumentValue {
        guard let v = bound[name] else { throw Diagnostic("'\(callee)' is missing its argument '\(name)'", at: location) }
        return v
    }

    private func mismatch(_ name: String, _ expected: String) -> Diagnostic {
        guard let v = bound[name] else { return Diagnostic("'\(callee)' is missing its argument '\(name)'", at: location) }
        if let hyper = v.hyper {
            // The value to change is the hyper-parameter's (or its --set), not the argument's text.
            return Diagnostic("\(hyper.describe(v.value)) is argument '\(name)' of '\(callee)' at \(v.location.line):\(v.location.column), "
                              + "which must be \(expected)", at: hyper.location)
        }
        return Diagnostic("argument '\(name)' of '\(callee)' must be \(expected), got \(v.value.kindDescription)", at: v.location)
    }

    /// A tensor; a number becomes a scalar constant.
    func tensor(_ name: String) throws -> Tensor {
        try Arguments.tensor(value(name), graph: graph) ?? { throw mismatch(name, "a tensor") }()
    }

    static func tensor(_ v: ArgumentValue, graph: Graph) throws -> Tensor? {
        switch v.value {
        case .tensor(let t): return t
        case .integer, .real:
            guard let f = v.value.float else { throw Diagnostic("\(v.value.kindDescription) is beyond the range of f32", at: v.location) }
            return try graph.constant(f)
        default: return nil
        }
    }

    func integer(_ name: String) throws -> Int {
        guard case .integer(let i) = try value(name).value else { throw mismatch(name, "an integer") }
        return i
    }

    /// An integer of at least `minimum` (sizes are positive, paddings non-negative).
    func integer(_ name: String, atLeast minimum: Int) throws -> Int {
        let i = try integer(name)
        guard i >= minimum else { throw mismatch(name, minimum == 0 ? "a non-negative integer" : "a positive integer") }
        return i
    }

    /// A number in `range` at full precision (a schedule computed in f64, as PyTorch's reference does).
    func number(_ name: String, _ range: NumberRange = .any) throws -> Double {
        guard let number = try value(name).value.number, range.contains(number) else { throw mismatch(name, range.description) }
        return number
    }

    /// A number in `range` that an f32 holds.
    func float(_ name: String, _ range: NumberRange = .any) throws -> Float {
        let v = try value(name).value
        guard let number = v.number, range.contains(number) else { throw mismatch(name, range.description) }
        guard let f = v.float else { throw mismatch(name, "\(range.description) within the range of f32") }
        return f
    }

    /// A list of integers such as `[batch, 784]`.
    func integers(_ name: String) throws -> [Int] {
        guard case .list(let items) = try value(name).value else { throw mismatch(name, "a list of integers") }
        return try items.map { item in
            guard case .integer(let i) = item else { throw mismatch(name, "a list of integers") }
            return i
        }
    }

    /// A list of positive sizes, the shape of a new tensor.
    func shape(_ name: String) throws -> Shape {
        let dims = try integers(name)
        guard dims.allSatisfy({ $0 >= 1 }) else { throw mismatch(name, "a list of positive sizes") }
        return Shape(dims)
    }

    /// `axis=1` or `axis=[1, 2]`; nil when not given (every axis).
    func axes(_ name: String) throws -> [Int]? {
        guard has(name) else { return nil }
        if case .integer(let i) = try value(name).value { return [i] }
        return try integers(name)
    }

    func function(_ name: String) throws -> String {
        guard case .function(let f) = try value(name).value else { throw mismatch(name, "the name of a def or network") }
        return f
    }
}
