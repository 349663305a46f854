/// `history(x, capacity) as NAME`: in training, x's values drawn through a pool of the last
/// `capacity` generated images (`History`, `HistoryPool`); elsewhere (evaluation, functions)
/// x itself. Named like a layer, since the pool is state of the model's own.
extension Builtin {
    static let history: [String: Builtin] = [
        "history": Builtin([ParameterSpec("x"), ParameterSpec("capacity")], isLayer: true) { a, c in
            let x = try a.tensor("x")
            let capacity = try a.integer("capacity", atLeast: 1)
            guard c.training else { return .tensor(x) }
            let (drawn, history) = try x.history(capacity: capacity, name: c.layerName)
            c.histories.declared.append((history, c.location))
            return .tensor(drawn)
        },
    ]
}

/// The history pools one build declares, with where each is written.
final class LoweredHistories {
    var declared: [(history: History, location: SourceLocation)] = []
}
