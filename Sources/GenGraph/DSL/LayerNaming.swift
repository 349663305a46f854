/// The static pass before lowering: gives every layer call site its parameter
/// name, and checks calls that need no graph to check. A layer's name is a
/// property of where it is written, so calling a network twice reuses its
/// parameters (a GAN's D on real and fake images); a call `f(...) as P`
/// prefixes the names of the layers it builds with `P.` while lowering.
struct LayerNaming {
    /// Full layer names (`D.l1`, `enc1`, `dense0`) by call-site location, before any call's prefix;
    /// for a call `f(...) as p`, the prefix it gives the layers it builds (`p`, or `N.p` in network N).
    private(set) var names: [SourceLocation: String] = [:]
    private var used: [String: SourceLocation] = [:]
    private var counters: [String: Int] = [:]
    private var declared: Set<String> = []
    private var defined: Set<String> = []
    /// The function whose body is being visited (nil at the top level).
    private var enclosing: String?
    /// Every call of a `def` or `network`: who calls it (nil: the top level) and whether with `as`.
    private var calls: [(callee: String, caller: String?, prefixed: Bool)] = []

    /// Full prefixes of the instances (`f(...) as p` calls), which `over` may train.
    private var instances: Set<String> = []

    /// Layer names by call site, the functions that are instance templates (called, and only
    /// ever with `as` or from other templates, so their layers exist only under prefixes), and
    /// the instances' prefixes as written (`G_AB`, `N.p` inside network N).
    static func resolve(_ model: ModelDeclaration) throws -> (names: [SourceLocation: String], templates: Set<String>, instances: Set<String>) {
        var naming = LayerNaming()
        for case .function(let f) in model.declarations { naming.defined.insert(f.name) }
        for declaration in model.declarations { try naming.visit(declaration) }
        return (naming.names, naming.templates(), naming.instances)
    }

    /// The largest set of called functions each of whose calls is prefixed or made by a member.
    private func templates() -> Set<String> {
        var templates = Set(calls.map(\.callee))
        var changed = true
        while changed {
            changed = false
            for call in calls where templates.contains(call.callee) && !call.prefixed {
                if let caller = call.caller, templates.contains(caller) { continue }
                templates.remove(call.callee)
                changed = true
            }
        }
        return templates
    }

    private mutating func visit(_ declaration: Declaration) throws {
        switch declaration {
        case .hyper(_, let value, _): try visit(value, prefix: "")
        case .input(let input): try input.shape.forEach { try visit($0, prefix: "") }
        case .initScheme: break
        case .function(let f):
            if Builtin.all[f.name] != nil { throw Diagnostic("'\(f.name)' is a built-in; choose another name", at: f.location) }
            if declared.contains(f.name) { throw Diagnostic("'\(f.name)' is already defined", at: f.location) }
            if Set(f.parameters).count != f.parameters.count { throw Diagnostic("'\(f.name)' repeats a parameter name", at: f.location) }
            // Declared after its body, so a function cannot call itself: lowering always terminates.
            enclosing = f.name
            defer { enclosing = nil }
            try visit(f.body, prefix: f.isNetwork ? f.name + "." : "")
            declared.insert(f.name)
        case .assignment(let a): try visit(a.value, prefix: "")
        case .phase(let p):
            if let r = p.repeats { try visit(r, prefix: "") }
        case .sample(let s): try visit(s.body, prefix: "")
        case .metric(let m): try visit(m.value, prefix: "")
        case .translate: break
        }
    }

    private mutating func visit(_ body: Body, prefix: String) throws {
        for a in body.assignments { try visit(a.value, prefix: prefix) }
        try visit(body.result, prefix: prefix)
    }

    private mutating func visit(_ e: Expression, prefix: String) throws {
        switch e {
        case .integer, .real, .name: break
        case .list(let items, _): try items.forEach { try visit($0, prefix: prefix) }
        case .negate(let inner, _): try visit(inner, prefix: prefix)
        case .binary(_, let a, let b, _):
            try visit(a, prefix: prefix)
            try visit(b, prefix: prefix)
        case .call(let c):
            for argument in c.arguments { try visit(argument.value, prefix: prefix) }
            try name(c, prefix: prefix)
        }
    }

    private mutating func name(_ c: Call, prefix: String) throws {
        guard let builtin = Builtin.all[c.callee] else {
            if declared.contains(c.callee) {
                calls.append((c.callee, enclosing, c.layerName != nil))
                // An instance inside a network belongs to it: `f(x) as p` in network N is `N.p`.
                if let (path, _) = c.layerName {
                    names[c.location] = prefix + path
                    instances.insert(prefix + path)
                }
                return
            }
            if defined.contains(c.callee) {
                throw Diagnostic("'\(c.callee)' is used before its definition (define it above)", at: c.location)
            }
            let kind = c.layerName == nil ? "function" : "layer"
            let hint = Builtin.suggestion(for: c.callee, among: Array(Builtin.all.keys) + Array(declared)).map { " (did you mean '\($0)'?)" } ?? ""
            throw Diagnostic("unknown \(kind) '\(c.callee)'\(hint)", at: c.location)
        }
        guard builtin.isLayer else {
            if let (_, l) = c.layerName { throw Diagnostic("'as' names a layer, and '\(c.callee)' declares no parameters", at: l) }
            return
        }
        let local: String
        if let (path, _) = c.layerName {
            local = path
        } else {
            let key = prefix + "\u{0}" + c.callee
            local = c.callee + "\(counters[key, default: 0])"
            counters[key, default: 0] += 1
        }
        let full = prefix + local
        if let earlier = used[full] {
            throw Diagnostic("layer '\(full)' is already declared at \(earlier.line):\(earlier.column)", at: c.layerName?.location ?? c.location)
        }
        used[full] = c.location
        names[c.location] = full
    }
}
