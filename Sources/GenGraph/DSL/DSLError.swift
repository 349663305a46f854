/// An error in a `.gg` model, rendered like a compiler's:
///
///     vae.gg:12:5: error: unknown layer 'conv3'
///         h = conv3(x, 16)
///             ^
public struct DSLError: Error, Equatable, CustomStringConvertible {
    public let location: SourceLocation
    public let message: String
    /// The text of the offending line, for the caret display.
    public let sourceLine: String

    public init(_ message: String, at location: SourceLocation, sourceLine: String) {
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// The first line alone: `file:line:col: error: message`.
    public var summary: String { "\(location): error: \(message)" }

    /// How much of a long source line (over twice this) the caret display quotes on each side of the column.
    static let quotedContext = 60

    /// The summary, the source line, and a caret under the column. A long line (a generated
    /// model's) is quoted only around the column, with `...` where it was cut.
    public var description: String {
        let characters = Array(sourceLine)
        let column = min(max(location.column - 1, 0), characters.count)
        let long = characters.count > 2 * Self.quotedContext
        let start = long ? max(column - Self.quotedContext, 0) : 0
        let end = long ? min(column + Self.quotedContext, characters.count) : characters.count
        let before = start > 0 ? "..." : ""
        let quoted = before + String(characters[start..<end]) + (end < characters.count ? "..." : "")
        // Copy tabs so the caret lines up however the terminal renders them.
        let lead = String(repeating: " ", count: before.count) + characters[start..<column].map { $0 == "\t" ? "\t" : " " }.joined()
        return "\(summary)\n\(quoted)\n\(lead)^"
    }
}

/// An error found while reading a model, before the source line is known; `SourceText` completes it.
struct Diagnostic: Error {
    let message: String
    let location: SourceLocation

    init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }
}

/// A model's text, split into lines so diagnostics can quote them.
struct SourceText {
    let file: String
    let text: String
    let lines: [Substring]

    init(_ text: String, file: String) {
        self.file = file
        self.text = text
        // Character-wise, so "\r\n" (one Character) ends a line too.
        lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    func error(_ d: Diagnostic) -> DSLError {
        let i = d.location.line - 1
        let line = lines.indices.contains(i) ? String(lines[i]) : ""
        return DSLError(d.message, at: d.location, sourceLine: line)
    }

    /// Runs `body`, turning its diagnostics into rendered errors.
    func reporting<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let d as Diagnostic { throw error(d) }
    }
}
