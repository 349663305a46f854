import Foundation

/// A run's parameters and optimiser state, saved and restored as one unit.
///
/// They are two files, because checkpoint.safetensors must stay a plain PyTorch state_dict, so
/// both carry the run's id and the step, and the checkpoint, written last, commits the save.
/// Before the optimiser file is replaced, the one that matches the committed checkpoint is kept
/// as optimizer.previous.safetensors: a crash between the two writes leaves the old checkpoint
/// with its own optimiser state beside it, and a resume takes whichever file matches.
extension RunDirectory {
    /// Metadata keys that tie an optimiser file to its checkpoint.
    private static let pairingKeys = ["run_id", "step"]

    /// The pairing values of the file at `url`, or nil if its header cannot be read.
    private func stamp(of url: URL) -> [String?]? {
        guard let metadata = try? SafeTensors.metadata(contentsOf: url) else { return nil }
        return Self.pairingKeys.map { metadata[$0] }
    }

    /// Saves `store`'s values of `graph` with `metadata` and the optimisers' state, stamped with `runID`.
    /// History pools go with the optimiser state: the checkpoint stays a plain state_dict.
    func saveCheckpoint(_ store: ParameterStore, of graph: Graph, metadata: CheckpointMetadata, runID: String,
                        optimizers: [(objective: String, optimizer: Optimizer)], pools: [(name: String, pool: HistoryPool)] = []) throws {
        if let committed = stamp(of: checkpoint), stamp(of: optimizer) == committed {
            guard rename(optimizer.path, previousOptimizer.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw CheckpointError(file: optimizer.path, .unwritable("cannot keep it as \(previousOptimizer.lastPathComponent): \(reason)"))
            }
        }
        var extra = ["run_id": runID, "step": String(metadata.step)]
        var entries: [SafeTensors.Entry] = []
        for (name, pool) in pools {
            extra[Self.poolKey(name, "count")] = String(pool.count)
            extra[Self.poolKey(name, "draws")] = String(pool.draws)
            // Saved at full capacity (zeros past `count`) so its shape is fixed.
            let stored = pool.images + [Float](repeating: 0, count: (pool.capacity - pool.count) * pool.imageSize)
            entries.append(SafeTensors.Entry(name: Self.poolKey(name, "images"),
                                             value: try TensorValue(shape: [pool.capacity, pool.imageSize], scalars: stored)))
        }
        try Checkpoint.saveOptimizers(optimizers, model: metadata.model, extra: extra, runState: entries, to: optimizer)
        var metadata = metadata
        metadata.extra["run_id"] = runID
        try Checkpoint.save(store, of: graph, metadata: metadata, to: checkpoint)
    }

    /// `history.<pool>.<field>`: a history pool's tensor or metadata in the optimiser file.
    private static func poolKey(_ pool: String, _ field: String) -> String { "history.\(pool).\(field)" }

    /// Loads the checkpoint into `store` and the optimiser state saved with it into `optimizers`,
    /// and returns `pools` (names and empty pools) as saved with it; refuses when no optimiser
    /// file matches, before any optimiser changes.
    func restoreCheckpoint(into store: ParameterStore, of graph: Graph, optimizers: [(objective: String, optimizer: Optimizer)],
                           pools: (names: [String], empty: [HistoryPool]) = ([], []),
                           configuration: RunConfiguration, runID: String) throws -> (CheckpointMetadata, [HistoryPool]) {
        guard FileManager.default.fileExists(atPath: checkpoint.path) else {
            throw GraphError(op: "resume", "run '\(url.path)' has no checkpoint to resume from (it stopped before saving one); "
                             + "remove the directory and start the run again, or choose another --out")
        }
        let metadata = try Checkpoint.load(from: checkpoint, into: store, of: graph, model: configuration.model)
        guard metadata.extra["run_id"] == runID else {
            throw GraphError(op: "resume", "\(checkpoint.path) is not a checkpoint of this run (\(runID) in \(self.configuration.path)), but "
                             + (metadata.extra["run_id"].map { "of run \($0)" } ?? "of an unknown run") + "; " + restartAdvice(configuration))
        }
        let wanted: [String?] = [runID, String(metadata.step)]
        var found: [String] = []
        for file in [optimizer, previousOptimizer] where FileManager.default.fileExists(atPath: file.path) {
            let stamp = stamp(of: file)
            if stamp == wanted {
                let expected = zip(pools.names, pools.empty).map { (Self.poolKey($0, "images"), Shape([$1.capacity, $1.imageSize])) }
                let saved = try Checkpoint.loadOptimizers(from: file, into: optimizers, model: configuration.model, runState: expected)
                let restored = try zip(pools.names, pools.empty).map { name, empty in
                    var pool = empty
                    func field<T: FixedWidthInteger>(_ key: String, _ range: ClosedRange<T>) throws -> T {
                        let key = Self.poolKey(name, key)
                        guard let text = saved.metadata[key] else {
                            throw GraphError(op: "resume", "\(file.path) does not record the history pool '\(name)' (no '\(key)')")
                        }
                        guard let value = T(text), range.contains(value) else {
                            throw GraphError(op: "resume", "\(file.path): '\(key)' is '\(text)', not a whole number from "
                                             + "\(range.lowerBound) to \(range.upperBound)")
                        }
                        return value
                    }
                    let count = try field("count", 0...empty.capacity)
                    let draws = try field("draws", 0...UInt64.max - 1)  // the count goes up before each draw
                    try pool.restore(stored: saved.runState[Self.poolKey(name, "images")]!.scalars, count: count, draws: draws)
                    return pool
                }
                return (metadata, restored)
            }
            found.append(describe(file, stamp, run: runID))
        }
        if found.isEmpty { found = ["\(optimizer.lastPathComponent) is missing"] }
        throw GraphError(op: "resume", "checkpoint \(checkpoint.path) is at step \(metadata.step) but its optimiser state is not: "
                         + found.joined(separator: "; ") + ". Resuming would pair these parameters with another save's optimiser "
                         + "state, so nothing was loaded; " + restartAdvice(configuration))
    }

    private func describe(_ file: URL, _ stamp: [String?]?, run: String) -> String {
        let name = file.lastPathComponent
        guard let stamp else { return "\(name) cannot be read" }
        guard let step = stamp[1] else { return "\(name) does not record its step (written before checkpoints were paired)" }
        return stamp[0] == run ? "\(name) is at step \(step)" : "\(name) is at step \(step) of another run"
    }

    /// How to go on from the checkpoint's parameters with fresh optimiser state.
    func restartAdvice(_ configuration: RunConfiguration) -> String {
        let sets = configuration.overrides.keys.sorted().map { " --set \($0)=\(configuration.overrides[$0]!)" }.joined()
        return "to train on from these parameters with fresh optimiser state, start a new run: "
            + "gengraph train \(source.path)\(sets) --init \(checkpoint.path) --out NEW_RUN_DIR"
    }
}
