/// Recursive-descent parser from tokens to a `ModelDeclaration` (grammar in docs/dsl.md).
struct Parser {
    private let tokens: [Token]
    private var index = 0
    /// Expressions being parsed inside one another right now.
    private var nesting = 0

    init(_ tokens: [Token]) { self.tokens = tokens }

    static func parse(_ text: String, file: String) throws -> ModelDeclaration {
        var lexer = Lexer(text, file: file)
        var parser = Parser(try lexer.tokens())
        return try parser.model()
    }

    // MARK: Declarations

    mutating func model() throws -> ModelDeclaration {
        skipNewlines()
        let location = current.location
        try expectKeyword("model")
        let name = try modelName()
        var summary = ""
        if case .string(let s) = current.kind { summary = s; advance() }
        try endOfStatement()
        var declarations: [Declaration] = []
        skipNewlines()
        while current.kind != .end {
            declarations.append(try declaration())
            skipNewlines()
        }
        return ModelDeclaration(name: name, summary: summary, location: location, declarations: declarations)
    }

    /// An identifier, or several joined by `-` with no spaces (`conv-ae`, `wgan-gp`).
    private mutating func modelName() throws -> String {
        var (name, location) = try identifier("a model name")
        var end = location.column + name.count
        while case .symbol("-") = current.kind, current.location.column == end,
              case .identifier(let part) = peek(1).kind, peek(1).location.column == end + 1 {
            advance()
            advance()
            name += "-" + part
            end += 1 + part.count
        }
        return name
    }

    private mutating func declaration() throws -> Declaration {
        let location = current.location
        switch current.kind {
        case .keyword("hyper"):
            advance()
            let (name, _) = try identifier("a hyper-parameter name")
            try expectSymbol("=")
            let value = try expression()
            try endOfStatement()
            return .hyper(name: name, value: value, location: location)
        case .keyword("input"):
            return .input(try input())
        case .keyword("init"):
            advance()
            let (word, wordLocation) = try identifier("an init scheme")
            guard let scheme = InitScheme(rawValue: word) else {
                let known = InitScheme.allCases.map(\.rawValue).joined(separator: ", ")
                throw Diagnostic("unknown init scheme '\(word)' (known: \(known))", at: wordLocation)
            }
            try endOfStatement()
            return .initScheme(scheme, location)
        case .keyword("def"), .keyword("network"):
            return .function(try function())
        case .keyword("minimize"):
            let objective = try objective()
            return .phase(PhaseDeclaration(repeats: nil, readsData: true, objectives: [objective], location: location))
        case .keyword("phase"):
            return .phase(try phase())
        case .keyword("sample"):
            advance()
            let (count, _) = try identifier("the sample count's name")
            var labels: String?, temperature: String?
            while current.kind == .symbol(",") {
                advance()
                // `temperature t` binds the temperature; a lone name is the labels.
                if current.kind == .identifier("temperature"), case .identifier = peek(1).kind, temperature == nil {
                    advance()
                    temperature = try identifier("the temperature's name").name
                } else if labels == nil, temperature == nil {
                    labels = try identifier("the labels' name or 'temperature t'").name
                } else {
                    throw Diagnostic("expected 'temperature t' or the sample's body, found \(current.display)", at: current.location)
                }
            }
            return .sample(SampleDeclaration(count: count, labels: labels, temperature: temperature, body: try body(), location: location))
        case .keyword("translate"):
            advance()
            let source = try identifier("the source domain's input")
            try expectSymbol("->")
            let target = try identifier("the target domain's input")
            try expectWord("with")
            let function = try identifier("the translating function")
            try endOfStatement()
            return .translate(TranslateDeclaration(source: source, target: target, function: function, location: location))
        case .keyword("metric"):
            advance()
            let (name, nameLocation) = try identifier("a metric name")
            var value = Expression.name(name, nameLocation)
            if current.kind == .symbol("=") {
                advance()
                value = try expression()
            }
            try endOfStatement()
            return .metric(MetricDeclaration(name: name, value: value, location: location))
        case .identifier:
            let assignment = try self.assignment()
            try endOfStatement()
            return .assignment(assignment)
        default:
            throw Diagnostic("expected a declaration or an assignment, found \(current.display)", at: location)
        }
    }

    private mutating func input() throws -> InputDeclaration {
        let location = current.location
        advance()
        let (name, _) = try identifier("an input name")
        try expectSymbol(":")
        let (kindWord, kindLocation) = try identifier("'images' or 'labels'")
        try expectSymbol("[")
        let shape = try list(closing: "]").0
        let kind: InputKind
        var domainClass: Expression?
        switch kindWord {
        case "images":
            let (word, wordLocation) = try identifier("a pixel range (unit, symmetric, binary or bytes)")
            let encodings: [String: PixelEncoding] = ["unit": .unitInterval, "symmetric": .symmetric, "binary": .binarized, "bytes": .bytes]
            guard let encoding = encodings[word] else {
                throw Diagnostic("unknown pixel range '\(word)' (known: unit, symmetric, binary, bytes)", at: wordLocation)
            }
            kind = .images(encoding)
            if current.kind == .identifier("class") {
                advance()
                domainClass = try expression()
            }
        case "labels":
            try expectWord("of")
            kind = .labels(classes: try expression())
        default:
            throw Diagnostic("unknown input kind '\(kindWord)' (known: images, labels)", at: kindLocation)
        }
        try endOfStatement()
        return InputDeclaration(name: name, kind: kind, shape: shape, domainClass: domainClass, location: location)
    }

    private mutating func function() throws -> FunctionDeclaration {
        let location = current.location
        let isNetwork = current.kind == .keyword("network")
        advance()
        let (name, _) = try identifier("a name")
        try expectSymbol("(")
        var parameters: [String] = []
        while current.kind != .symbol(")") {
            if !parameters.isEmpty { try expectSymbol(",") }
            parameters.append(try identifier("a parameter name").name)
        }
        advance()
        return FunctionDeclaration(name: name, parameters: parameters, isNetwork: isNetwork, body: try body(), location: location)
    }

    /// `= expression` or `{ assignments... return expression }`.
    private mutating func body() throws -> Body {
        if current.kind == .symbol("=") {
            advance()
            let result = try expression()
            try endOfStatement()
            return Body(assignments: [], result: result)
        }
        try expectSymbol("{")
        var assignments: [Assignment] = []
        skipNewlines()
        while current.kind != .keyword("return") {
            guard case .identifier = current.kind else {
                throw Diagnostic("expected an assignment or 'return', found \(current.display)", at: current.location)
            }
            assignments.append(try assignment())
            try endOfStatement()
            skipNewlines()
        }
        let returnLocation = current.location
        advance()
        var result = try expression()
        if current.kind == .symbol(",") {
            var values = [result]
            while current.kind == .symbol(",") {
                advance()
                values.append(try expression())
            }
            result = .list(values, returnLocation)
        }
        skipNewlines()
        try expectSymbol("}")
        try endOfStatement()
        return Body(assignments: assignments, result: result)
    }

    /// `name = expression` or `a, b = expression`.
    private mutating func assignment() throws -> Assignment {
        let (name, location) = try identifier("a name")
        var names = [name]
        while current.kind == .symbol(",") {
            advance()
            names.append(try identifier("a name").name)
        }
        try expectSymbol("=")
        return Assignment(names: names, value: try expression(), location: location)
    }

    private mutating func phase() throws -> PhaseDeclaration {
        let location = current.location
        advance()
        var repeats: Expression?
        var readsData = true
        while current.kind != .symbol("{") {
            let (word, wordLocation) = try identifier("'repeat', 'nodata' or '{'")
            switch word {
            case "repeat":
                if repeats != nil { throw Diagnostic("'repeat' is given twice", at: wordLocation) }
                repeats = try expression()
            case "nodata":
                if !readsData { throw Diagnostic("'nodata' is given twice", at: wordLocation) }
                readsData = false
            default: throw Diagnostic("unknown phase option '\(word)' (known: repeat, nodata)", at: wordLocation)
            }
        }
        advance()
        var objectives: [ObjectiveDeclaration] = []
        skipNewlines()
        while current.kind != .symbol("}") { objectives.append(try objective()); skipNewlines() }
        if objectives.isEmpty { throw Diagnostic("a phase needs at least one 'minimize'", at: current.location) }
        advance()
        try endOfStatement()
        return PhaseDeclaration(repeats: repeats, readsData: readsData, objectives: objectives, location: location)
    }

    private mutating func objective() throws -> ObjectiveDeclaration {
        let location = current.location
        try expectKeyword("minimize")
        let (loss, _) = try identifier("the loss's name")
        var networks: [(String, SourceLocation)] = []
        if current.kind == .identifier("over") {
            repeat {
                advance()
                networks.append(try identifier("a network name"))
            } while current.kind == .symbol(",")
        }
        try expectWord("with")
        let optimizer = try call(named: "an optimiser such as adam(lr)")
        var clip: Call?, clipNorm: Call?
        while case .identifier(let word) = current.kind, word == "clip" || word == "clip_norm" {
            let given = word == "clip" ? clip : clipNorm
            if given != nil { throw Diagnostic("'\(word)' is given twice", at: current.location) }
            if word == "clip" { clip = try call(named: "clip(min, max)") } else { clipNorm = try call(named: "clip_norm(max)") }
        }
        try endOfStatement()
        return ObjectiveDeclaration(loss: loss, networks: networks, optimizer: optimizer, clip: clip, clipNorm: clipNorm,
                                    location: location)
    }

    private mutating func call(named what: String) throws -> Call {
        guard case .call(let c) = try primary().expression, c.layerName == nil else {
            throw Diagnostic("expected \(what)", at: previous.location)
        }
        return c
    }

    // MARK: Expressions

    /// An expression and its height: how many levels a recursive walk of it descends
    /// (brackets count too). Every height is checked as it is formed, so no tree deeper
    /// than `DSLLimits.expressionDepth` is ever built.
    private typealias Parsed = (expression: Expression, height: Int)

    mutating func expression() throws -> Expression { try pipeline().expression }

    /// One more level for a node starting at `location`, or the error when it is one too many.
    private func level(above height: Int, at location: SourceLocation) throws -> Int {
        guard height < DSLLimits.expressionDepth else { throw DSLLimits.tooDeep(at: location) }
        return height + 1
    }

    /// pipeline := sum { "->" stage }; `a -> f(b)` is `f(a, b)`.
    private mutating func pipeline() throws -> Parsed {
        let start = current.location
        // Refused on the way down too: the parser's own recursion must stop before the stack does.
        nesting += 1
        defer { nesting -= 1 }
        if nesting > DSLLimits.expressionDepth { throw DSLLimits.tooDeep(at: start) }
        var (value, height) = try sum()
        while true {
            if current.kind == .newline, peek(1).kind == .symbol("->") { advance() }
            guard current.kind == .symbol("->") else { return (value, height) }
            advance()
            let (name, location) = try identifier("a function or layer after '->'")
            var c = Call(callee: name, location: location,
                         arguments: [Argument(label: nil, value: value, location: value.location)], layerName: nil)
            if current.kind == .symbol("(") {
                advance()
                let (more, argumentsHeight) = try arguments()
                c.arguments += more
                height = max(height, argumentsHeight)
            }
            c.layerName = try layerName()
            value = .call(c)
            height = try level(above: height, at: start)
        }
    }

    private mutating func sum() throws -> Parsed {
        let start = current.location
        var (value, height) = try product()
        while case .symbol(let s) = current.kind, s == "+" || s == "-" {
            let location = current.location
            advance()
            let right = try product()
            value = .binary(BinaryOperator(rawValue: s)!, value, right.expression, location)
            height = try level(above: max(height, right.height), at: start)
        }
        return (value, height)
    }

    private mutating func product() throws -> Parsed {
        let start = current.location
        var (value, height) = try unary()
        while case .symbol(let s) = current.kind, s == "*" || s == "/" {
            let location = current.location
            advance()
            let right = try unary()
            value = .binary(BinaryOperator(rawValue: s)!, value, right.expression, location)
            height = try level(above: max(height, right.height), at: start)
        }
        return (value, height)
    }

    /// Leading minuses loop rather than recurse, so `- - - x` costs no stack.
    private mutating func unary() throws -> Parsed {
        var minuses: [SourceLocation] = []
        while current.kind == .symbol("-") {
            minuses.append(current.location)
            advance()
        }
        var (value, height) = try primary()
        for location in minuses.reversed() {
            value = .negate(value, location)
            height = try level(above: height, at: minuses[0])
        }
        return (value, height)
    }

    private mutating func primary() throws -> Parsed {
        let token = current
        switch token.kind {
        case .integer(let v):
            advance()
            return (.integer(v, token.location), 1)
        case .real(let v):
            advance()
            return (.real(v, token.location), 1)
        case .identifier(let name):
            advance()
            guard current.kind == .symbol("(") else {
                if current.kind == .keyword("as") {
                    throw Diagnostic("'as' names a layer call, such as dense(32) as enc", at: current.location)
                }
                return (.name(name, token.location), 1)
            }
            advance()
            let (arguments, height) = try arguments()
            var c = Call(callee: name, location: token.location, arguments: arguments, layerName: nil)
            c.layerName = try layerName()
            return (.call(c), try level(above: height, at: token.location))
        case .symbol("("):
            advance()
            let (inner, height) = try pipeline()
            try expectSymbol(")")
            return (inner, try level(above: height, at: token.location))
        case .symbol("["):
            advance()
            let (items, height) = try list(closing: "]")
            return (.list(items, token.location), try level(above: height, at: token.location))
        default:
            throw Diagnostic("expected an expression, found \(token.display)", at: token.location)
        }
    }

    /// Arguments after "(" up to and including ")", with the greatest height among them.
    private mutating func arguments() throws -> ([Argument], height: Int) {
        var out: [Argument] = []
        var height = 0
        while current.kind != .symbol(")") {
            if !out.isEmpty { try expectSymbol(",") }
            let location = current.location
            var label: String?
            // `init` is also the keyword of `init torch`; before `=` it is a layer's argument.
            if let name = current.labelName, peek(1).kind == .symbol("=") {
                label = name
                advance()
                advance()
            } else if let previous = out.last, previous.label != nil {
                throw Diagnostic("positional argument after a named one", at: location)
            }
            let (value, valueHeight) = try pipeline()
            out.append(Argument(label: label, value: value, location: location))
            height = max(height, valueHeight)
        }
        advance()
        return (out, height)
    }

    /// Items up to and including `closing`, with the greatest height among them.
    private mutating func list(closing: String) throws -> ([Expression], height: Int) {
        var out: [Expression] = []
        var height = 0
        while current.kind != .symbol(closing) {
            if !out.isEmpty { try expectSymbol(",") }
            let (item, itemHeight) = try pipeline()
            out.append(item)
            height = max(height, itemHeight)
        }
        advance()
        return (out, height)
    }

    /// `as name` or `as layers.0`.
    private mutating func layerName() throws -> (path: String, location: SourceLocation)? {
        guard current.kind == .keyword("as") else { return nil }
        advance()
        let (first, location) = try identifier("a layer name after 'as'")
        var path = first
        while current.kind == .symbol(".") {
            advance()
            switch current.kind {
            case .identifier(let part): path += "." + part
            case .integer(let i): path += ".\(i)"
            default: throw Diagnostic("expected a name part after '.', found \(current.display)", at: current.location)
            }
            advance()
        }
        return (path, location)
    }

    // MARK: Tokens

    private var current: Token { tokens[index] }
    private var previous: Token { tokens[max(index - 1, 0)] }
    private func peek(_ offset: Int) -> Token { tokens[min(index + offset, tokens.count - 1)] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }
    private mutating func skipNewlines() { while current.kind == .newline { advance() } }

    private mutating func identifier(_ what: String) throws -> (name: String, location: SourceLocation) {
        guard case .identifier(let name) = current.kind else {
            if case .keyword(let word) = current.kind {
                throw Diagnostic("expected \(what), found the keyword '\(word)'", at: current.location)
            }
            throw Diagnostic("expected \(what), found \(current.display)", at: current.location)
        }
        let location = current.location
        advance()
        return (name, location)
    }

    private mutating func expectSymbol(_ s: String) throws {
        guard current.kind == .symbol(s) else { throw Diagnostic("expected '\(s)', found \(current.display)", at: current.location) }
        advance()
    }

    private mutating func expectKeyword(_ k: String) throws {
        guard current.kind == .keyword(k) else { throw Diagnostic("expected '\(k)', found \(current.display)", at: current.location) }
        advance()
    }

    /// A contextual word such as `with` or `of`.
    private mutating func expectWord(_ w: String) throws {
        guard current.kind == .identifier(w) else { throw Diagnostic("expected '\(w)', found \(current.display)", at: current.location) }
        advance()
    }

    private mutating func endOfStatement() throws {
        guard current.kind == .newline || current.kind == .end else {
            throw Diagnostic("expected the end of the line, found \(current.display)", at: current.location)
        }
        advance()
    }
}
