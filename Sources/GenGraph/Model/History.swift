/// A pool of images generated at earlier steps that an objective reads in place of the newest
/// ones (CycleGAN's discriminators, after Shrivastava et al. 2017). `input` is an input of the
/// training graph; before the objective that reads it runs, the trainer feeds it `source`'s
/// values from an earlier objective of the same step, drawn through the pool (`HistoryPool`).
public struct History {
    /// The pool's name (a `.gg` file's `history(...) as NAME`), which `input` is fed as.
    public let name: String
    public let input: Tensor
    public let source: Tensor
    /// Images the pool keeps.
    public let capacity: Int
}

extension Tensor {
    /// A stand-in for this tensor's values drawn through a history pool of `capacity` images:
    /// an input of the same shape named `name`. It carries no gradient (the pool holds values).
    public func history(capacity: Int, name: String) throws -> (value: Tensor, history: History) {
        guard capacity >= 1 else { throw GraphError(op: "history", "the pool needs a capacity of at least 1, got \(capacity)") }
        guard rank >= 1 else { throw GraphError(op: "history", "pools images of a batch, got a scalar") }
        // The pool is one tensor of `capacity` images (saved with the optimiser state), held to every tensor's limit.
        do {
            _ = try Shape([capacity] + shape.dims.dropFirst()).checkedCount(op: "history")
        } catch let error as GraphError {
            throw GraphError(op: "history", "a pool of capacity \(capacity): \(error.message)")
        }
        let input = try graph.input(name, shape)
        return (input, History(name: name, input: input, source: self, capacity: capacity))
    }
}

/// Where a history is fed in a training step: after objective `producer` of phase `phase`
/// computes its source, for the objectives after it that read it.
struct HistoryRoute: Equatable {
    let phase: Int
    let producer: Int
}

extension Model {
    /// Each history's route, in `histories` order.
    func historyRoutes() throws -> [HistoryRoute] { try histories.map(route) }

    /// Where `h` is fed. It must be read by objectives of one phase only, and an earlier
    /// objective of that phase must compute its source.
    func route(_ h: History) throws -> HistoryRoute {
        let needs = phases.map { phase in phase.objectives.map { Set(graph.neededNodes(for: [$0.loss.id])) } }
        let readers = needs.enumerated().flatMap { p, objectives in
            objectives.enumerated().filter { $0.element.contains(h.input.id) }.map { (phase: p, objective: $0.offset) }
        }
        guard let first = readers.first else { throw GraphError(op: "history", "no objective reads the pool '\(h.name)'") }
        guard readers.allSatisfy({ $0.phase == first.phase }) else {
            throw GraphError(op: "history", "the pool '\(h.name)' is read in more than one phase; its draws belong to one phase of a step")
        }
        guard let producer = needs[first.phase].prefix(first.objective).firstIndex(where: { $0.contains(h.source.id) }) else {
            throw GraphError(op: "history", "the pool '\(h.name)' draws from values that no earlier objective of its phase computes")
        }
        return HistoryRoute(phase: first.phase, producer: producer)
    }
}
