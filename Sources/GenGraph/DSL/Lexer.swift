/// Splits `.gg` text into tokens. `#` starts a comment; line breaks end
/// statements except inside brackets and after an operator, comma or `->`
/// (the parser also joins a line that starts with `->` to the one before).
struct Lexer {
    private let chars: [Character]
    private let file: String
    private var index = 0
    private var line = 1
    private var column = 1

    init(_ text: String, file: String) {
        chars = Array(text)
        self.file = file
    }

    static let symbols = ["->", "(", ")", "[", "]", "{", "}", ",", "=", ":", "+", "-", "*", "/", "."]

    mutating func tokens() throws -> [Token] {
        var out: [Token] = []
        var depth = 0
        while true {
            skipSpaceAndComments()
            let here = location
            guard let c = peek() else { break }
            if c.isNewline {
                advance()
                if depth == 0, let last = out.last, !last.continuesLine { out.append(Token(kind: .newline, location: here)) }
                continue
            }
            let token: Token.Kind
            if c.isLetter || c == "_" {
                let word = take { $0.isLetter || $0.isNumber || $0 == "_" }
                token = Token.keywords.contains(word) ? .keyword(word) : .identifier(word)
            } else if c.isASCII && c.isNumber {
                token = try number(at: here)
            } else if c == "\"" {
                token = try string(at: here)
            } else if let symbol = Lexer.symbols.first(where: matches) {
                symbol.forEach { _ in advance() }
                if ["(", "["].contains(symbol) { depth += 1 }
                if [")", "]"].contains(symbol) { depth = max(depth - 1, 0) }
                token = .symbol(symbol)
            } else {
                throw Diagnostic("unexpected character '\(c)'", at: here)
            }
            out.append(Token(kind: token, location: here))
        }
        if let last = out.last, last.kind != .newline { out.append(Token(kind: .newline, location: location)) }
        out.append(Token(kind: .end, location: location))
        return out
    }

    private var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    private func peek(_ offset: Int = 0) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    private mutating func advance() {
        if chars[index].isNewline { line += 1; column = 1 } else { column += 1 }
        index += 1
    }

    private mutating func take(while keep: (Character) -> Bool) -> String {
        var s = ""
        while let c = peek(), keep(c) { s.append(c); advance() }
        return s
    }

    private func matches(_ symbol: String) -> Bool {
        symbol.enumerated().allSatisfy { peek($0.offset) == $0.element }
    }

    private mutating func skipSpaceAndComments() {
        while let c = peek() {
            if c == " " || c == "\t" { advance() } else if c == "#" { _ = take { !$0.isNewline } } else { return }
        }
    }

    /// `20`, `0.3`, `1e-3`, `2.5E+4`.
    private mutating func number(at here: SourceLocation) throws -> Token.Kind {
        let digits: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        var text = take(while: digits)
        var isReal = false
        if peek() == ".", let next = peek(1), digits(next) {
            advance()
            text += "." + take(while: digits)
            isReal = true
        }
        if let e = peek(), e == "e" || e == "E" {
            let sign = peek(1) == "-" || peek(1) == "+"
            if let d = peek(sign ? 2 : 1), digits(d) {
                advance()
                text += "e"
                if sign { text.append(peek()!); advance() }
                text += take(while: digits)
                isReal = true
            }
        }
        // A literal too large for a Double would read as inf.
        let value: Token.Kind? = isReal ? Double(text).flatMap { $0.isFinite ? .real($0) : nil } : Int(text).map { .integer($0) }
        guard let value else { throw Diagnostic("number '\(text)' is out of range", at: here) }
        return value
    }

    private mutating func string(at here: SourceLocation) throws -> Token.Kind {
        advance()
        let s = take { $0 != "\"" && !$0.isNewline }
        guard peek() == "\"" else { throw Diagnostic("unterminated string", at: here) }
        advance()
        return .string(s)
    }
}
