/// One lexical unit of a `.gg` file.
struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)
        case keyword(String)
        case integer(Int)
        case real(Double)
        case string(String)
        case symbol(String)
        /// The end of a statement (line breaks inside brackets or after an operator are not).
        case newline
        case end
    }

    let kind: Kind
    let location: SourceLocation

    /// Words that start declarations or have a fixed role; never variable names.
    static let keywords: Set<String> = [
        "model", "hyper", "input", "init", "def", "network", "minimize", "phase", "sample", "metric", "return", "as", "translate",
    ]

    /// The name an argument label may have: an identifier, or `init` (a layer's `init=0`).
    var labelName: String? {
        switch kind {
        case .identifier(let name): return name
        case .keyword(let name) where name == "init": return name
        default: return nil
        }
    }

    /// How the token reads in an error message.
    var display: String {
        switch kind {
        case .identifier(let s), .keyword(let s), .symbol(let s): return "'\(s)'"
        case .integer(let v): return "'\(v)'"
        case .real(let v): return "'\(v)'"
        case .string(let s): return "\"\(s)\""
        case .newline: return "end of line"
        case .end: return "end of file"
        }
    }

    /// Whether a line break after this token continues the statement.
    var continuesLine: Bool {
        switch kind {
        case .symbol(let s): return ["->", "+", "-", "*", "/", ",", "=", ":", "(", "[", "{"].contains(s)
        case .newline: return true
        default: return false
        }
    }
}
