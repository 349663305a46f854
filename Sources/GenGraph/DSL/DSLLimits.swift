/// How much structure a `.gg` file may ask of the passes that read it. The
/// parser, layer naming and lowering walk expressions recursively on the
/// caller's stack, and lowering expands every call of a `def`; these bounds
/// keep a hostile or generated file to a located error instead of a stack
/// overflow or a build that never ends (docs/dsl.md, "Limits").
enum DSLLimits {
    /// Levels of one expression: each bracket, call, list, unary minus, pipeline
    /// stage and operator of a chain is one. The zoo's deepest is under 20. A level
    /// costs a debug build about 9 KB of stack in the parser and again in lowering,
    /// where about 1000 levels exhaust the main thread's 8 MB: this keeps to 40% of it.
    static let expressionDepth = 400
    /// Expression levels on the stack at once while a graph is built, counted through
    /// calls of `def`s: a call's body continues its caller's depth.
    static let loweringDepth = expressionDepth
    /// Calls of `def`s and `network`s inside one another while a graph is built.
    static let callDepth = 64
    /// Expressions evaluated while one graph is built, every call expanded: a `def`
    /// that calls another twice, 60 deep, would otherwise expand 2^60 times. The zoo's
    /// largest build evaluates under 3000.
    static let evaluations = 250_000
    /// Times a `phase repeat` runs per step (WGAN's critic repeats 5).
    static let repeats = 10_000
    /// Classes of a labels input: labels travel as f32, exact up to 2^24.
    static let classes = 1 << 24
    /// Bytes of a model's text: the lexer holds it as characters and tokens, many times its size.
    static let sourceBytes = 16 << 20

    static func tooDeep(at location: SourceLocation) -> Diagnostic {
        Diagnostic("expression nested deeper than \(expressionDepth) levels", at: location)
    }

    /// Refuses a model of `bytes` before its text is split or lexed.
    static func checkSize(_ bytes: Int, file: String) throws {
        guard bytes <= sourceBytes else {
            throw DSLError("the model is \(bytes) bytes; at most \(sourceBytes) are read",
                           at: SourceLocation(file: file, line: 1, column: 1), sourceLine: "")
        }
    }
}

/// What one graph build has used of `DSLLimits`. A class, so copies of a `Lowering` share it.
final class LoweringBudget {
    private var depth = 0
    private var evaluations = 0
    private var calls: [String] = []

    /// One more expression level on the stack (and one more evaluated).
    func enter(at location: SourceLocation) throws {
        if depth == DSLLimits.loweringDepth {
            throw Diagnostic("expressions nested deeper than \(DSLLimits.loweringDepth) levels through calls of defs", at: location)
        }
        if evaluations == DSLLimits.evaluations {
            throw Diagnostic("the model expands to more than \(DSLLimits.evaluations) expressions (defs calling defs many times)", at: location)
        }
        depth += 1
        evaluations += 1
    }

    func leave() { depth -= 1 }

    /// Entering a call of `function`: recursion never ends, and nesting is bounded.
    func call(_ function: String, at location: SourceLocation) throws {
        if let first = calls.firstIndex(of: function) {
            let cycle = (calls[first...] + [function]).map { "'\($0)'" }.joined(separator: " -> ")
            throw Diagnostic("'\(function)' calls itself (\(cycle)), which never ends", at: location)
        }
        if calls.count >= DSLLimits.callDepth {
            throw Diagnostic("calls of defs nested deeper than \(DSLLimits.callDepth) levels", at: location)
        }
        calls.append(function)
    }

    func leaveCall() { calls.removeLast() }
}
