/// Lowers statements and expressions onto a `Graph` through the Swift API
/// (`Tensor` methods, layers, losses), so a `.gg` model builds the same nodes
/// as the same model written in Swift.
struct Lowering {
    let graph: Graph
    let hypers: [String: Value]
    /// Where each hyper-parameter's value came from, so an argument that is one can say so.
    var hyperOrigins: [String: HyperOrigin] = [:]
    let functions: [String: FunctionDeclaration]
    let layerNames: [SourceLocation: String]
    let initScheme: InitScheme
    /// False in `sample` bodies: batch norm uses running statistics.
    let training: Bool
    /// In a `sample` body: the images input's name and shape at the sample count.
    let canvas: (name: String, shape: Shape)?
    /// What this build has used of `DSLLimits`, shared by every copy of this lowering.
    let budget = LoweringBudget()
    /// The history pools this build declares, shared likewise.
    let histories = LoweredHistories()
    /// Prepended to every layer name: the `as` prefixes of the function calls being lowered (`couplings.0.`).
    var layerPrefix = ""

    /// Runs `assignments` in order (each tagging its nodes with its line), then evaluates `result`.
    func run(_ body: Body, scope: [String: Value]) throws -> Value {
        var scope = scope
        for a in body.assignments { try assign(a, into: &scope) }
        graph.currentOrigin = body.result.start.description
        return try evaluate(body.result, scope: scope)
    }

    /// Evaluates `a` and binds its name, or each of its names to one of the values a list holds.
    func assign(_ a: Assignment, into scope: inout [String: Value]) throws {
        for name in a.names where hypers[name] != nil {
            throw Diagnostic("'\(name)' is a hyper-parameter and cannot be assigned", at: a.location)
        }
        graph.currentOrigin = a.location.description
        let value = try evaluate(a.value, scope: scope)
        guard a.names.count > 1 else { return scope[a.names[0]] = value }
        guard case .list(let values) = value, values.count == a.names.count else {
            throw Diagnostic("\(a.names.count) names need as many values, got \(value.kindDescription)", at: a.value.start)
        }
        for (name, v) in zip(a.names, values) { scope[name] = v }
    }

    func evaluate(_ e: Expression, scope: [String: Value]) throws -> Value {
        try budget.enter(at: e.location)
        defer { budget.leave() }
        do {
            return try evaluateUnchecked(e, scope: scope)
        } catch let error as GraphError {
            // The engine checks shapes as nodes are built; point at the expression that built it.
            throw Diagnostic(error.description, at: e.location)
        }
    }

    private func evaluateUnchecked(_ e: Expression, scope: [String: Value]) throws -> Value {
        switch e {
        case .integer(let v, _): return .integer(v)
        case .real(let v, _): return .real(v)
        case .name(let name, let location):
            if let v = scope[name] ?? hypers[name] { return v }
            if functions[name] != nil { return .function(name) }
            throw Diagnostic("unknown name '\(name)'", at: location)
        case .list(let items, _):
            return .list(try items.map { try evaluate($0, scope: scope) })
        case .negate(let inner, let location):
            switch try evaluate(inner, scope: scope) {
            case .integer(let v): return .integer(try checked(0.subtractingReportingOverflow(v), at: location))
            case .real(let v): return .real(-v)
            case .tensor(let t): return .tensor(try t.neg())
            case let other: throw Diagnostic("cannot negate \(other.kindDescription)", at: location)
            }
        case .binary(let op, let a, let b, let location):
            return try binary(op, evaluate(a, scope: scope), evaluate(b, scope: scope), at: location)
        case .call(let c):
            return try call(c, scope: scope)
        }
    }

    /// Numbers fold; a number meets a tensor through the Swift operator for (Tensor, Float) or (Float, Tensor).
    private func binary(_ op: BinaryOperator, _ a: Value, _ b: Value, at location: SourceLocation) throws -> Value {
        switch (a, b) {
        case (.integer(let x), .integer(let y)) where op != .div:
            switch op {
            case .add: return .integer(try checked(x.addingReportingOverflow(y), at: location))
            case .sub: return .integer(try checked(x.subtractingReportingOverflow(y), at: location))
            default: return .integer(try checked(x.multipliedReportingOverflow(by: y), at: location))
            }
        case (.tensor(let x), .tensor(let y)):
            switch op {
            case .add: return .tensor(try x + y)
            case .sub: return .tensor(try x - y)
            case .mul: return .tensor(try x * y)
            case .div: return .tensor(try x / y)
            }
        case (.tensor(let x), _) where b.number != nil:
            let y = try float(b, at: location)
            switch op {
            case .add: return .tensor(try x + y)
            case .sub: return .tensor(try x - y)
            case .mul: return .tensor(try x * y)
            case .div: return .tensor(try x / y)
            }
        case (_, .tensor(let y)) where a.number != nil:
            let x = try float(a, at: location)
            switch op {
            case .add: return .tensor(try x + y)
            case .sub: return .tensor(try x - y)
            case .mul: return .tensor(try x * y)
            case .div: return .tensor(try x / y)
            }
        default:
            guard let x = a.number, let y = b.number else {
                throw Diagnostic("'\(op.rawValue)' needs numbers or tensors, got \(a.kindDescription) and \(b.kindDescription)", at: location)
            }
            let result: Double
            switch op {
            case .add: result = x + y
            case .sub: result = x - y
            case .mul: result = x * y
            case .div: result = x / y
            }
            // Folding must not make inf or NaN (1 / 0, 1e300 * 1e300): no value in a model is either.
            guard result.isFinite else { throw Diagnostic("\(x) \(op.rawValue) \(y) is not a finite number", at: location) }
            return .real(result)
        }
    }

    /// A number meeting a tensor, as the f32 constant it becomes.
    private func float(_ v: Value, at location: SourceLocation) throws -> Float {
        guard let f = v.float else { throw Diagnostic("\(v.kindDescription) is beyond the range of f32", at: location) }
        return f
    }

    private func checked(_ result: (partialValue: Int, overflow: Bool), at location: SourceLocation) throws -> Int {
        if result.overflow { throw Diagnostic("integer overflow", at: location) }
        return result.partialValue
    }

    /// Evaluates a call's arguments, noting those that are exactly a hyper-parameter.
    func arguments(of c: Call, scope: [String: Value]) throws -> [ArgumentValue] {
        try c.arguments.map { a in
            var hyper: HyperOrigin?
            if case .name(let name, _) = a.value, scope[name] == nil { hyper = hyperOrigins[name] }
            return ArgumentValue(label: a.label, value: try evaluate(a.value, scope: scope), location: a.location, hyper: hyper)
        }
    }

    private func call(_ c: Call, scope: [String: Value]) throws -> Value {
        let values = try arguments(of: c, scope: scope)
        if let f = functions[c.callee] {
            if let label = values.first(where: { $0.label != nil }) {
                throw Diagnostic("'\(c.callee)' takes positional arguments only", at: label.location)
            }
            return try apply(f, values.map(\.value), at: c.location, instance: c.layerName == nil ? nil : layerNames[c.location])
        }
        guard let builtin = Builtin.all[c.callee] else {
            // LayerNaming rejected unknown callees before lowering started.
            throw Diagnostic("unknown function '\(c.callee)'", at: c.location)
        }
        let arguments = try Arguments(callee: c.callee, location: c.location, graph: graph, specs: builtin.parameters,
                                      variadic: builtin.variadic, values: values)
        let context = CallContext(graph: graph, layerName: layerPrefix + (layerNames[c.location] ?? c.callee), training: training,
                                  initScheme: initScheme, apply: { name, args in
                                      guard let f = self.functions[name] else { throw Diagnostic("unknown function '\(name)'", at: c.location) }
                                      return try self.apply(f, args, at: c.location)
                                  }, canvas: canvas, location: c.location, histories: histories)
        // A chain continued over lines (`-> conv(...)` on the next one) puts each call's nodes on its own line.
        let caller = graph.currentOrigin
        defer { graph.currentOrigin = caller }
        if caller?.hasPrefix("\(c.location.file):\(c.location.line):") != true { graph.currentOrigin = c.location.description }
        return try builtin.apply(arguments, context)
    }

    /// Calls a `def` or `network`: its body sees its parameters, hyper-parameters and other functions.
    /// With an `instance` path (`as couplings.0`) its layers are named under that prefix.
    func apply(_ f: FunctionDeclaration, _ arguments: [Value], at location: SourceLocation, instance: String? = nil) throws -> Value {
        guard arguments.count == f.parameters.count else {
            throw Diagnostic("'\(f.name)' takes \(f.parameters.count) argument\(f.parameters.count == 1 ? "" : "s"), got \(arguments.count)",
                             at: location)
        }
        try budget.call(f.name, at: location)
        defer { budget.leaveCall() }
        let caller = graph.currentOrigin
        defer { graph.currentOrigin = caller }
        var body = self
        if let instance { body.layerPrefix += instance + "." }
        return try body.run(f.body, scope: Dictionary(uniqueKeysWithValues: zip(f.parameters, arguments)))
    }
}
