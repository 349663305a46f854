/// A built-in's parameter: required, optional (absent means "not given"), or with a default.
struct ParameterSpec {
    enum Default {
        case required
        case optional
        case value(Value)
    }

    let name: String
    let defaultValue: Default

    init(_ name: String, _ defaultValue: Default = .required) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

/// The arguments of one call bound to a built-in's parameters, with typed
/// accessors whose errors point at the offending argument.
struct Arguments {
    let callee: String
    let location: SourceLocation
    let graph: Graph
    private var bound: [String: (value: Value, location: SourceLocation)] = [:]
    /// Extra positional arguments of a variadic built-in (concat's tensors).
    private(set) var rest: [(value: Value, location: SourceLocation)] = []

    init(callee: String, location: SourceLocation, graph: Graph, specs: [ParameterSpec], variadic: Bool,
         values: [(label: String?, value: Value, location: SourceLocation)]) throws {
        self.callee = callee
        self.location = location
        self.graph = graph
        var position = 0
        for v in values {
            if let label = v.label {
                guard specs.contains(where: { $0.name == label }) else {
                    let known = specs.map(\.name).joined(separator: ", ")
                    throw Diagnostic("'\(callee)' has no argument '\(label)' (it takes \(known.isEmpty ? "none" : known))", at: v.location)
                }
                if bound[label] != nil { throw Diagnostic("argument '\(label)' of '\(callee)' given twice", at: v.location) }
                bound[label] = (v.value, v.location)
            } else if variadic {
                rest.append((v.value, v.location))
            } else {
                guard position < specs.count else {
                    throw Diagnostic("'\(callee)' takes at most \(specs.count) argument\(specs.count == 1 ? "" : "s"), got \(values.count)",
                                     at: v.location)
                }
                bound[specs[position].name] = (v.value, v.location)
                position += 1
            }
        }
        for spec in specs where bound[spec.name] == nil {
            switch spec.defaultValue {
            case .required: throw Diagnostic("'\(callee)' is missing its argument '\(spec.name)'", at: location)
            case .optional: break
            case .value(let v): bound[spec.name] = (v, location)
            }
        }
    }

    func has(_ name: String) -> Bool { bound[name] != nil }

    /// The argument bound to `name`; an absent optional one is reported as missing.
    func value(_ name: String) throws -> (value: Value, location: SourceLocation) {
        guard let v = bound[name] else { throw Diagnostic("'\(callee)' is missing its argument '\(name)'", at: location) }
        return v
    }

    private func mismatch(_ name: String, _ expected: String) -> Diagnostic {
        guard let (v, l) = bound[name] else { return Diagnostic("'\(callee)' is missing its argument '\(name)'", at: location) }
        return Diagnostic("argument '\(name)' of '\(callee)' must be \(expected), got \(v.kindDescription)", at: l)
    }

    /// A tensor; a number becomes a scalar constant.
    func tensor(_ name: String) throws -> Tensor {
        try Arguments.tensor(value(name), graph: graph) ?? { throw mismatch(name, "a tensor") }()
    }

    static func tensor(_ v: (value: Value, location: SourceLocation), graph: Graph) throws -> Tensor? {
        switch v.value {
        case .tensor(let t): return t
        case .integer, .real: return try graph.constant(Float(v.value.number!))
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

    func float(_ name: String) throws -> Float {
        guard let v = try value(name).value.number else { throw mismatch(name, "a number") }
        return Float(v)
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
