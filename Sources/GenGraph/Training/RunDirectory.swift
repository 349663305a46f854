import Foundation

/// How a training run was started: written to `config.json` so `--resume`,
/// `sample` and `eval` rebuild exactly the same model.
public struct RunConfiguration: Codable, Equatable {
    public var model: String
    /// The file the model came from (a zoo name's is `<name>.gg`).
    public var modelFile: String
    public var overrides: [String: String]
    public var seed: UInt64
    public var mode: String
    public var shuffle: Bool
    public var epochs: Int?
    public var steps: Int?
    public var data: String
    public var trainLimit: Int?
    /// Identifies the run in both files of each checkpoint, so a resume can tell they belong
    /// together; absent in runs from before checkpoints were paired.
    public var runID: String?
    /// Whether batch norm takes its training statistics over every rank's batch (absent: each rank's own).
    public var syncBatchNorm: Bool?

    enum CodingKeys: String, CodingKey {
        case model, modelFile = "model_file", overrides, seed, mode, shuffle, epochs, steps, data, trainLimit = "train_limit"
        case runID = "run_id", syncBatchNorm = "sync_batchnorm"
    }

    /// The first value that cannot start a run, described; nil when all can.
    var invalidValue: String? {
        if ExecutionMode(rawValue: mode) == nil { return "mode '\(mode)' is not an execution mode" }
        for (key, value) in [("epochs", epochs), ("steps", steps), ("train_limit", trainLimit)] {
            if let value, value < 1 { return "\(key) is \(value), not at least 1" }
        }
        return nil
    }
}

/// The files of a training run:
///
///     RUN_DIR/model.gg                 the model source as trained (overrides in config.json)
///     RUN_DIR/config.json              how the run was started
///     RUN_DIR/metrics.csv              one row per logged step and per epoch
///     RUN_DIR/checkpoint.safetensors   parameters and running statistics (PyTorch layouts)
///     RUN_DIR/optimizer.safetensors    optimiser state, for an exact --resume
///     RUN_DIR/optimizer.previous.safetensors  the optimiser state of the checkpoint before (see RunCheckpoint.swift)
///     RUN_DIR/samples/epoch_NNN.png    64 samples after each epoch (generative models)
///     RUN_DIR/loss.svg                 the loss curves
public struct RunDirectory {
    public let url: URL

    public init(_ path: String) { url = URL(fileURLWithPath: path) }

    public var source: URL { url.appendingPathComponent("model.gg") }
    public var configuration: URL { url.appendingPathComponent("config.json") }
    public var metrics: URL { url.appendingPathComponent("metrics.csv") }
    public var checkpoint: URL { url.appendingPathComponent("checkpoint.safetensors") }
    public var optimizer: URL { url.appendingPathComponent("optimizer.safetensors") }
    public var previousOptimizer: URL { url.appendingPathComponent("optimizer.previous.safetensors") }
    public var samples: URL { url.appendingPathComponent("samples") }
    public var lossPlot: URL { url.appendingPathComponent("loss.svg") }

    public var exists: Bool { FileManager.default.fileExists(atPath: configuration.path) }

    public func readConfiguration() throws -> RunConfiguration {
        let saved: RunConfiguration
        if let reason = OutputFile.unreadable(configuration.path) { throw GraphError(op: "run", "\(configuration.path): cannot read it: \(reason)") }
        do {
            saved = try JSONDecoder().decode(RunConfiguration.self, from: Data(contentsOf: configuration))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.keyNotFound(_, context), let DecodingError.dataCorrupted(context) {
            // The decoder's own message names no field; its coding path does.
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw GraphError(op: "run", "\(configuration.path): not a readable run configuration ("
                             + (field.isEmpty ? "" : "field '\(field)': ") + context.debugDescription + ")")
        } catch {
            throw GraphError(op: "run", "\(configuration.path): not a readable run configuration (\(error.localizedDescription))")
        }
        if let problem = saved.invalidValue { throw GraphError(op: "run", "\(configuration.path): \(problem)") }
        return saved
    }

    /// The names a run directory holds (see the layout above).
    private var runFiles: Set<String> {
        Set([source, configuration, metrics, checkpoint, optimizer, previousOptimizer, samples, lossPlot].map(\.lastPathComponent))
    }

    /// Refuses to start a run over anything that is not a gengraph run's: `create` overwrites
    /// what an unfinished start left (its model.gg shows it was one), and would overwrite
    /// a checkpoint or metrics file of any other origin just the same.
    func checkStartable() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw GraphError(op: "train", "'\(url.path)' is a file, not a directory; give --out a directory to create")
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw GraphError(op: "train", "cannot list '\(url.path)': \(error.localizedDescription)")
        }
        let leftover = entries.isEmpty || entries == [samples.lastPathComponent]
            || (entries.contains(source.lastPathComponent) && Set(entries).isSubset(of: runFiles))
        guard leftover else {
            let shown = entries.sorted().prefix(4).joined(separator: ", ") + (entries.count > 4 ? ", ..." : "")
            throw GraphError(op: "train", "'\(url.path)' holds files that are not a gengraph run's (\(shown)) and training "
                             + "would overwrite them; give --out a new or empty directory")
        }
    }

    /// Makes the directory with the model source, clearing what an earlier attempt that never
    /// committed may have left; `commit` then makes it a run.
    func create(source text: String) throws {
        do {
            try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        } catch {
            throw OutputError.cannotWrite(path: samples.path, reason: "cannot make the directory (\(FileManager.default.fileExists(atPath: samples.path) ? "a file of that name is in the way" : error.localizedDescription))")
        }
        try OutputFile.writeAtomically(Array(text.utf8), to: source.path)
        for leftover in [metrics, previousOptimizer, lossPlot] where FileManager.default.fileExists(atPath: leftover.path) {
            try FileManager.default.removeItem(at: leftover)
        }
    }

    /// Writes config.json, which makes the directory a run (`exists`). Written after the first
    /// checkpoint, so a run directory always has one to resume from.
    func commit(_ configuration: RunConfiguration) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(configuration).write(to: self.configuration, options: .atomic)
    }

    /// The model this run trained, rebuilt from its saved source and overrides.
    public func definition() throws -> (ModelDefinition, RunConfiguration) {
        let config = try readConfiguration()
        // Errors name the run's copy of the source, which is there to read, not the file it was trained from.
        let text = try ModelSource.read(path: source.path, file: source.path)
        let definition = try ModelSource.parse(text, file: source.path).definition(overrides: config.overrides)
        return (definition, config)
    }
}

/// A trained model ready for sampling or evaluation: from a run directory or a checkpoint file.
public struct TrainedModel {
    public let definition: ModelDefinition
    public let parameters: ParameterStore
    public let metadata: CheckpointMetadata
    public let configuration: RunConfiguration?

    /// Loads `path`: a run directory (its latest checkpoint) or a `.safetensors`
    /// checkpoint written by `gengraph train` (which carries its model source).
    public init(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw GraphError(op: "load", "no run directory or checkpoint at '\(path)'")
        }
        let checkpointURL: URL
        if isDirectory.boolValue {
            let run = RunDirectory(path)
            guard run.exists else { throw GraphError(op: "load", "'\(path)' is not a run directory (no config.json)") }
            let (definition, config) = try run.definition()
            self.definition = definition
            configuration = config
            checkpointURL = run.checkpoint
            guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
                throw GraphError(op: "load", "run '\(path)' has no checkpoint yet")
            }
        } else {
            checkpointURL = URL(fileURLWithPath: path)
            let file = try SafeTensors(contentsOf: checkpointURL)
            guard let text = file.metadata["source"], let file0 = file.metadata["model_file"] else {
                throw GraphError(op: "load", "checkpoint '\(path)' does not carry its model source (not written by gengraph train)")
            }
            let overridesText = file.metadata["overrides"] ?? "{}"
            guard let overrides = try? JSONDecoder().decode([String: String].self, from: Data(overridesText.utf8)) else {
                throw GraphError(op: "load", "checkpoint '\(path)': its overrides '\(overridesText)' are not a JSON object of strings")
            }
            // The source is no file of its own: errors say where its text is, not a file that may not exist.
            definition = try ModelSource.parse(text, file: "\(file0) (source embedded in \(path))").definition(overrides: overrides)
            configuration = nil
        }
        let graph = try definition.instantiate().graph
        parameters = ParameterStore()
        _ = try Session(graph: graph, config: RunConfig(threads: 1), parameters: parameters)
        metadata = try Checkpoint.load(from: checkpointURL, into: parameters, of: graph, model: definition.name)
    }
}
