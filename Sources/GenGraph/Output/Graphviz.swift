import Foundation

/// Lays out dot text as SVG with Graphviz's `dot`, which gengraph runs rather than links:
/// only `dump --format html` needs it.
public enum Graphviz {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// `dot` on `path` (a PATH-style list), or nil.
    public static func executable(searching path: String? = ProcessInfo.processInfo.environment["PATH"]) -> URL? {
        for directory in (path ?? "").split(separator: ":") {
            let url = URL(fileURLWithPath: String(directory)).appendingPathComponent("dot")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    public static let missingMessage = "gengraph dump --format html needs Graphviz's `dot` to draw the kernel graph "
        + "(apt-get install graphviz, or bash tools/setup.sh)"

    /// The `<svg>` element `dot -Tsvg` makes of `dot` (its XML prologue dropped, so it can sit inside HTML).
    public static func svg(_ dot: String, searching path: String? = ProcessInfo.processInfo.environment["PATH"]) throws -> String {
        guard let executable = executable(searching: path) else { throw Unavailable(description: missingMessage) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Written from another thread: a big graph's SVG would fill the output pipe while dot still reads.
        let writer = Thread {
            input.fileHandleForWriting.write(Data(dot.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: svg, as: UTF8.self)
        guard process.terminationStatus == 0, let start = text.range(of: "<svg") else {
            throw Unavailable(description: "dot failed (exit \(process.terminationStatus)): "
                              + String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return String(text[start.lowerBound...])
    }
}
