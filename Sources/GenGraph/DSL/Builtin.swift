/// What a built-in sees besides its arguments.
struct CallContext {
    let graph: Graph
    /// The full parameter-name prefix of the layer this call declares (`G.fc`), for layers.
    let layerName: String
    let training: Bool
    let initScheme: InitScheme
    /// Applies a `def` or `network` by name (for `autoregressive`).
    let apply: (_ function: String, _ arguments: [Value]) throws -> Value
    /// In a `sample` body: the images input's name and shape at the sample count.
    let canvas: (name: String, shape: Shape)?
    /// Where the call is written.
    let location: SourceLocation
    /// The history pools the build has declared so far (`history`).
    let histories: LoweredHistories
}

/// A built-in op or layer of the DSL.
struct Builtin {
    let parameters: [ParameterSpec]
    /// Whether extra positional arguments are collected (concat).
    let variadic: Bool
    /// Layers declare parameters, so they get a name (`as enc` or `<op><index>`).
    let isLayer: Bool
    let apply: (Arguments, CallContext) throws -> Value

    init(_ parameters: [ParameterSpec], variadic: Bool = false, isLayer: Bool = false,
         _ apply: @escaping (Arguments, CallContext) throws -> Value) {
        self.parameters = parameters
        self.variadic = variadic
        self.isLayer = isLayer
        self.apply = apply
    }

    /// Every built-in, by name.
    static let all: [String: Builtin] = layers.merging(math) { a, _ in a }.merging(structure) { a, _ in a }
        .merging(normalization) { a, _ in a }.merging(diffusion) { a, _ in a }.merging(history) { a, _ in a }

    /// Closest built-in names, for "did you mean" hints.
    static func suggestion(for name: String, among candidates: [String]) -> String? {
        let best = candidates.map { ($0, editDistance(name, $0)) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best, best.1 <= max(1, name.count / 3) else { return nil }
        return best.0
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
}
