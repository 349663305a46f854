import Foundation

/// Where a model comes from: a zoo name or a path to a `.gg` file.
public enum ModelReference {
    /// The parsed model named by `reference`: a zoo name (`vae`) or a path (`models/my.gg`).
    public static func source(_ reference: String) throws -> ModelSource {
        if let zoo = try DSLZoo.model(named: reference) { return zoo }
        if reference.hasSuffix(".gg") || reference.contains("/") {
            guard FileManager.default.fileExists(atPath: reference) else {
                throw GraphError(op: "model", "no file '\(reference)'")
            }
            return try ModelSource.load(path: reference)
        }
        throw GraphError(op: "model", "unknown model '\(reference)'; zoo models: \(DSLZoo.names.joined(separator: ", ")), or give a path to a .gg file")
    }

    /// Parses `key=value` overrides (`--set latent=32`).
    public static func overrides(_ assignments: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for a in assignments {
            let parts = a.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw GraphError(op: "--set", "expected NAME=VALUE, got '\(a)'")
            }
            // The last would win without a word: the command line says two things at once.
            if let earlier = result[parts[0]] {
                throw GraphError(op: "--set", "'\(parts[0])' is set twice, to \(earlier) and to \(parts[1])")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }
}
