import Foundation

/// Knobs of a training run that are not part of the model.
public struct TrainingOptions {
    public var dataDirectory = MNISTDataset.defaultDirectory
    /// Train this many epochs (default: the resumed run's, else the model's
    /// `epochs` hyper-parameter, else 1), or (when set) this many steps.
    public var epochs: Int?
    public var steps: Int?
    public var shuffle = true
    /// Log a metrics row every this many steps.
    public var logEvery = 50
    /// Samples drawn into a grid after each epoch (0: none).
    public var sampleCount = 64
    /// Use only the first images of the training / test split (quick runs and tests).
    public var trainLimit: Int?
    public var testLimit: Int?
    /// In a data-parallel job, take batch norm's training statistics over every rank's batch
    /// (`Graph.batchStatisticsReplicas`) rather than each rank's own.
    public var syncBatchNorm = false

    public init() {}
}

/// What a run reports while it trains.
public enum TrainingEvent {
    /// The plan cache compiled a plan or hit one.
    case compiled(String)
    /// Something the user asked for that the run could not do (a memory limit no plan meets).
    case warning(String)
    /// A step finished: `batch` of `batches` in the epoch (batches counted in steps).
    case progress(epoch: Int, step: Int, stepInEpoch: Int, stepsPerEpoch: Int, losses: [(name: String, value: Float)], samplesPerSecond: Double)
    case epochEnd(epoch: Int, metrics: [(name: String, value: Double)], samples: URL?)
    case checkpoint(URL, step: Int)
}

/// A training run writing a run directory: metrics, checkpoints, sample grids,
/// the loss plot. Resuming continues exactly: same noise, same batch order,
/// same optimiser state, so the result equals an uninterrupted run.
///
/// With `config.replicas` > 1 this process is one rank of a data-parallel job
/// (`Distributed`): it trains on its slice of every global batch (`RankSlices`),
/// its steps average the gradients across ranks, and rank 0 alone writes the
/// run directory; every rank reads it to resume.
public final class TrainingRun {
    public let directory: RunDirectory
    public let definition: ModelDefinition
    public let configuration: RunConfiguration
    public let model: Model
    public let trainer: Trainer
    let options: TrainingOptions
    let config: RunConfig
    let train: MNISTSplit
    let test: MNISTSplit
    var batches: any BatchSource
    /// Steps finished, epochs started, and batches consumed in the current epoch.
    public private(set) var step = 0
    public private(set) var epoch = 0
    /// The step of the checkpoint on disk.
    var savedStep = 0
    var batchInEpoch = 0
    let planCache = PlanCache()
    let metricColumns: [String]
    /// The id both files of each checkpoint carry.
    let runID: String
    /// Images per step of all ranks together (of each domain): the model's `batch`.
    public let globalBatch: Int
    /// Whether this process writes the run directory (rank 0, or a single process).
    var writes: Bool { Distributed.rank == 0 }

    /// Steps in one epoch: whole steps' worth of batches (a WGAN step takes 5).
    public var stepsPerEpoch: Int { max(1, batches.batchesPerEpoch / model.batchesPerStep) }
    /// The step the run stops at: `options.steps`, or its epochs' worth (`checkLength` keeps the product in range).
    public var totalSteps: Int { options.steps ?? (options.epochs ?? definition.defaultEpochs) * stepsPerEpoch }

    /// Starts a run of `source` in `directory`, or with `resume` continues the run there
    /// (its saved model and configuration win; `source` may then be nil). `initFrom`
    /// loads parameters from a checkpoint of the same model, or from a PyTorch state_dict, before training.
    public init(source: ModelSource?, overrides: [String: String], directory: RunDirectory, config: RunConfig,
                options: TrainingOptions, resume: Bool, initFrom: String? = nil) throws {
        self.directory = directory
        var config = config
        var options = options
        let configuration: RunConfiguration
        let writes = Distributed.rank == 0
        if resume {
            guard directory.exists else {
                throw GraphError(op: "resume", "'\(directory.url.path)' holds no run to resume (no config.json: the run never "
                                 + "started, or was stopped while starting); start it again with gengraph train MODEL --out \(directory.url.path)")
            }
            let (definition, saved) = try directory.definition()
            guard let savedID = saved.runID else {
                throw GraphError(op: "resume", "\(directory.configuration.path) has no run_id: the run was started before checkpoints "
                                 + "and optimiser state were paired, so they cannot be checked to match; " + directory.restartAdvice(saved))
            }
            self.definition = definition
            configuration = saved
            runID = savedID
            config.seed = saved.seed
            config.mode = ExecutionMode(rawValue: saved.mode) ?? config.mode
            options.shuffle = saved.shuffle
            options.dataDirectory = saved.data
            options.trainLimit = saved.trainLimit
            options.syncBatchNorm = saved.syncBatchNorm ?? false
            if options.steps == nil && options.epochs == nil {
                options.steps = saved.steps
                options.epochs = saved.epochs
            }
        } else {
            guard let source else { throw GraphError(op: "train", "no model given") }
            // Rank 0 creates the directory below, so only it can tell whether it was there before.
            if writes && directory.exists {
                let saved = (try? SafeTensors.metadata(contentsOf: directory.checkpoint))?["step"].map { " (saved at step \($0))" } ?? ""
                throw GraphError(op: "train", "'\(directory.url.path)' already holds a run\(saved); use --resume to continue it or choose another --out")
            }
            if writes { try directory.checkStartable() }
            definition = try source.definition(overrides: overrides)
            runID = UUID().uuidString
            configuration = RunConfiguration(model: definition.name, modelFile: source.file, overrides: overrides, seed: config.seed,
                                             mode: config.mode.rawValue, shuffle: options.shuffle,
                                             epochs: options.steps == nil ? options.epochs ?? definition.defaultEpochs : nil, steps: options.steps,
                                             data: options.dataDirectory, trainLimit: options.trainLimit, runID: runID,
                                             syncBatchNorm: options.syncBatchNorm ? true : nil)
        }
        try options.check()
        // The per-epoch grid is drawn whole; refused now rather than after the first epoch's training.
        try HostMemory.require(floats: options.sampleCount, times: 3 * 784, for: "a grid of \(options.sampleCount) samples")
        self.configuration = configuration
        self.config = config
        self.options = options
        try Distributed.checkSameOnEveryRank([
            "model: \(definition.name)", "source: \(stableHash(definition.source ?? ""))",
            "overrides: " + configuration.overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
            "seed: \(config.seed)", "mode: \(config.mode)", "fusion off: \(FusionKind.describe(config.fusionOff))",
            "memory limit: \(config.memoryLimitBytes.map(String.init) ?? "none")", "steps: \(options.steps.map(String.init) ?? "-")",
            "epochs: \(options.epochs.map(String.init) ?? "-")", "data: \(options.dataDirectory)", "shuffle: \(options.shuffle)",
            "train limit: \(options.trainLimit.map(String.init) ?? "none")", "test limit: \(options.testLimit.map(String.init) ?? "none")",
            "sync batchnorm: \(options.syncBatchNorm)", "run: \(resume ? "resumed" : "new")",
        ], "settings")

        train = try MNISTDataset.split(.train, directory: options.dataDirectory, limit: options.trainLimit)
        test = try MNISTDataset.split(.test, directory: options.dataDirectory, limit: options.testLimit)
        // Each epoch ends with the test metrics: a split they cannot run on fails now, not after an epoch of training.
        if definition.canEvaluate { _ = try Evaluator.batchSize(of: definition, test, Evaluator.batch) }
        let whole = try definition.instantiate()
        // The data meets the model here, before the run directory is made: a mismatch is an error
        // at the model's input line, not a failed first step.
        try whole.checkFeeds(train, classes: definition.classes, "the training split")
        try whole.checkFeeds(test, classes: definition.classes, "the test split")
        globalBatch = whole.batchSize
        if config.replicas > 1 {
            guard globalBatch % config.replicas == 0 else {
                throw GraphError(op: "train", "the batch of \(globalBatch) images does not split evenly over \(config.replicas) ranks; "
                                 + "give a --batch that \(config.replicas) divides")
            }
            model = try definition.instantiate(batch: globalBatch / config.replicas,
                                               batchStatisticsReplicas: options.syncBatchNorm ? config.replicas : 1)
        } else {
            model = whole
        }
        trainer = try Trainer(model: model, config: config, planCache: planCache)
        let global = try whole.batches(of: train, shuffle: options.shuffle, seed: config.seed)
        batches = config.replicas > 1
            ? RankSlices(global, rank: Distributed.rank, of: config.replicas, domains: model.domains.count) : global
        // A data-parallel run also logs the time each step spent waiting on all-reduces.
        let columns = ["step", "epoch"] + model.objectives.map(\.name) + ["samples_per_s"] + ["allreduce_s"]
            + definition.metricNames.map { "test_" + $0 }
        // allreduce_s is logged by a data-parallel run; a resumed one keeps whichever columns its file has,
        // so a run may be resumed by another number of processes (docs/distributed.md).
        let logged = resume && FileManager.default.fileExists(atPath: directory.metrics.path)
            ? (try? MetricsCSV.read(directory.metrics.path))?.columns : nil
        metricColumns = logged == columns ? columns
            : columns.filter { $0 != "allreduce_s" || (logged == nil && config.replicas > 1) }
        try checkLength()

        if resume {
            try restore()
        } else {
            if let initFrom { try initialise(from: initFrom) }
            // The directory becomes a run (config.json) only once its first checkpoint is written.
            if writes {
                try directory.create(source: definition.source ?? "")
                try saveCheckpoint()
                try directory.commit(configuration)
            }
        }
    }

    /// Refuses a run longer than its steps can be counted, before `totalSteps` multiplies anything.
    private func checkLength() throws {
        let epochs = options.epochs ?? definition.defaultEpochs
        let (product, overflow) = epochs.multipliedReportingOverflow(by: stepsPerEpoch)
        guard (options.steps ?? (overflow ? Int.max : product)) <= Checkpoint.maximumStep else {
            throw GraphError(op: "train", "\(options.steps.map { "\($0) steps" } ?? "\(epochs) epochs of \(stepsPerEpoch) steps") "
                             + "are more than the \(Checkpoint.maximumStep) steps a run can count")
        }
    }

    private func initialise(from path: String) throws {
        let url = URL(fileURLWithPath: path)
        try Checkpoint.loadInitialValues(from: url, into: trainer.session.parameters, of: model.graph, model: definition.name)
    }

    /// Continues from the run directory's checkpoint: parameters, optimiser state, noise counter,
    /// batch position, and metrics.csv cut back to the rows logged up to the checkpoint.
    private func restore() throws {
        let (metadata, pools) = try directory.restoreCheckpoint(into: trainer.session.parameters, of: model.graph, optimizers: optimizers,
                                                                pools: (model.histories.map(\.name), trainer.pools),
                                                                configuration: configuration, runID: runID)
        // The checkpoint carries the source and overrides it was trained with: a model.gg or config.json
        // edited since would resume a different model (or a --set that --resume refuses) on these weights.
        let savedOverrides = metadata.extra["overrides"].flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        let sameSource = (metadata.extra["source"] ?? "") == (definition.source ?? "")
        guard sameSource, savedOverrides == configuration.overrides else {
            throw GraphError(op: "resume", (sameSource ? "the overrides in \(directory.configuration.path) differ" : "\(directory.source.path) differs")
                             + " from what \(directory.checkpoint.path) was trained with; undo the edit to resume, or start a new run "
                             + "from these weights with gengraph train MODEL --init \(directory.checkpoint.path)")
        }
        func position<T: FixedWidthInteger>(_ key: String, _ range: ClosedRange<T>) throws -> T {
            guard let value = metadata.extra[key].flatMap({ T($0) }), range.contains(value) else {
                throw GraphError(op: "resume", "checkpoint \(directory.checkpoint.path): run position '\(key)' is "
                                 + "'\(metadata.extra[key] ?? "")', not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        let e = try position("epoch", 0...metadata.step)
        let b = try position("batch_in_epoch", 0...batches.batchesPerEpoch)
        // The run counter goes up before each step runs, so it must have room to.
        let r = try position("run_count", 0...UInt64.max - 1)
        let metricsBytes = try position("metrics_bytes", 0...Int.max)
        // Each epoch is stepsPerEpoch steps, so the step count follows from the position; a file
        // whose numbers disagree was not written by this run.
        let stepsIntoEpoch = b / model.batchesPerStep
        guard b % model.batchesPerStep == 0, (metadata.step - stepsIntoEpoch) % stepsPerEpoch == 0,
              (metadata.step - stepsIntoEpoch) / stepsPerEpoch == e else {
            throw GraphError(op: "resume", "checkpoint \(directory.checkpoint.path): step \(metadata.step) does not match its run "
                             + "position, epoch \(e) batch \(b), at \(stepsPerEpoch) steps of \(model.batchesPerStep) batches per epoch")
        }
        if writes { try cutMetrics(to: metricsBytes) }
        trainer.pools = pools
        step = metadata.step
        savedStep = step
        epoch = e
        batchInEpoch = b
        trainer.session.runCount = r
        batches.start(epoch: epoch)
        for _ in 0..<batchInEpoch { _ = batches.next() }
    }

    /// The size of metrics.csv, 0 before it exists.
    private var metricsBytes: Int {
        var status = stat()
        return stat(directory.metrics.path, &status) == 0 ? Int(status.st_size) : 0
    }

    /// Drops rows logged after the checkpoint (by a run that then crashed); the resumed run logs them again.
    private func cutMetrics(to bytes: Int) throws {
        guard metricsBytes > bytes else { return }
        guard truncate(directory.metrics.path, off_t(bytes)) == 0 else {
            throw OutputError.cannotWrite(path: directory.metrics.path, reason: String(cString: strerror(errno)))
        }
    }

    private var optimizers: [(objective: String, optimizer: Optimizer)] {
        zip(model.objectives.map(\.name), trainer.trainingSteps.map(\.optimizer)).map { ($0, $1) }
    }

    /// Gives every rank rank 0's running statistics (batch norm's, which otherwise follow each
    /// rank's own batches), as PyTorch's DDP does, so that every checkpoint holds what all ranks
    /// use. Every rank must call it at the same point.
    private func agreeOnStates() throws {
        guard config.replicas > 1 else { return }
        for name in model.graph.states.compactMap({ t -> String? in if case .state(let n) = t.node.op { return n } else { return nil } }) {
            guard let buffer = trainer.session.parameters.buffer(name) else { continue }
            try Distributed.broadcast(buffer.pointer, count: buffer.count)
        }
    }

    /// Whether to stop before the next step: `shouldStop` of any rank (a signal may reach the
    /// ranks at different steps, and all must stop at the same one).
    private func stopAgreed(_ shouldStop: () -> Bool) throws -> Bool {
        guard config.replicas > 1 else { return shouldStop() }
        var flag: [Float] = [shouldStop() ? 1 : 0]
        try Distributed.allReduceSum(&flag, count: 1)
        return flag[0] > 0
    }

    /// The losses averaged over the ranks' slices: the global batch's, for metrics and progress.
    private func globalLosses(_ losses: [(name: String, loss: Float)]) throws -> [(name: String, loss: Float)] {
        guard config.replicas > 1 else { return losses }
        var values = losses.map(\.loss)
        try Distributed.allReduceSum(&values, count: values.count)
        return zip(losses, values).map { ($0.name, $1 / Float(config.replicas)) }
    }

    /// Writes parameters, running statistics and optimiser state with the run position.
    public func saveCheckpoint() throws {
        var extra = ["epoch": "\(epoch)", "batch_in_epoch": "\(batchInEpoch)", "run_count": "\(trainer.session.runCount)",
                     "metrics_bytes": "\(metricsBytes)", "source": definition.source ?? "", "model_file": configuration.modelFile]
        extra["overrides"] = String(decoding: try JSONEncoder().encode(configuration.overrides), as: UTF8.self)
        let metadata = CheckpointMetadata(model: definition.name, step: step, seed: config.seed, mode: config.mode, extra: extra)
        try directory.saveCheckpoint(trainer.session.parameters, of: model.graph, metadata: metadata, runID: runID, optimizers: optimizers,
                                     pools: zip(model.histories.map(\.name), trainer.pools).map { ($0, $1) })
        savedStep = step
    }

    private func nextBatch() throws -> Batch {
        guard let b = batches.next() else { throw GraphError(op: "train", "ran out of batches inside an epoch (internal error)") }
        batchInEpoch += 1
        return b
    }

    /// Trains until the configured steps or epochs are done or `shouldStop`
    /// says so (checked between steps). Returns false when stopped early; a
    /// checkpoint is written either way.
    @discardableResult
    public func run(events: @escaping (TrainingEvent) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> Bool {
        planCache.log = { events(.compiled($0)) }
        planCache.warn = { events(.warning($0)) }
        defer { (planCache.log, planCache.warn) = (nil, nil) }
        let metrics = writes ? try MetricsCSVWriter(path: directory.metrics.path, columns: metricColumns) : nil
        var window = (steps: 0, seconds: 0.0)
        var waitedBefore = Distributed.reductionSeconds
        while step < totalSteps {
            if try stopAgreed(shouldStop) {
                try agreeOnStates()
                if writes { try saveCheckpoint() }
                events(.checkpoint(directory.checkpoint, step: step))
                return false
            }
            if batchInEpoch == 0 { batches.start(epoch: epoch) }
            let start = Date()
            let losses = try globalLosses(trainer.step(nextBatch: nextBatch))
            // A non-finite loss has already reached the parameters: stop before a checkpoint saves them.
            if let bad = losses.first(where: { !$0.loss.isFinite }) {
                throw GraphError(op: "train", "\(bad.name) is \(bad.loss) at step \(step + 1): training diverged, so it stopped "
                                 + "without saving; \(directory.checkpoint.path) holds step \(savedStep). A lower learning rate (--lr) may help")
            }
            step += 1
            window.steps += 1
            window.seconds += Date().timeIntervalSince(start)
            let stepInEpoch = batchInEpoch / model.batchesPerStep
            let rate = Double(window.steps) * Double(globalBatch * model.batchesPerStep) / max(window.seconds, 1e-9)
            events(.progress(epoch: epoch, step: step, stepInEpoch: stepInEpoch, stepsPerEpoch: stepsPerEpoch,
                             losses: losses.map { ($0.name, $0.loss) }, samplesPerSecond: rate))
            if step % options.logEvery == 0 || step == totalSteps {
                var row: [String: Double] = ["step": Double(step), "epoch": Double(epoch), "samples_per_s": rate]
                for (name, value) in losses { row[name] = Double(value) }
                if config.replicas > 1 && metricColumns.contains("allreduce_s") {
                    row["allreduce_s"] = (Distributed.reductionSeconds - waitedBefore) / Double(window.steps)
                    waitedBefore = Distributed.reductionSeconds
                }
                try metrics?.append(row)
                window = (0, 0)
            }
            if stepInEpoch >= stepsPerEpoch || step == totalSteps {
                let finishedEpoch = stepInEpoch >= stepsPerEpoch
                let shownEpoch = epoch
                try agreeOnStates()
                if finishedEpoch {
                    epoch += 1
                    batchInEpoch = 0
                }
                // The steps are saved before the evaluation and the samples, which can fail (a full disk, an
                // unwritable grid) and would otherwise take the epoch's training with them; saved again after,
                // so the checkpoint's metrics position covers the epoch's row.
                if writes { try saveCheckpoint() }
                let results = writes ? try evaluate() : []
                var row: [String: Double] = ["step": Double(step), "epoch": Double(shownEpoch)]
                for (name, value) in results { row[name] = value }
                try metrics?.append(row)
                let samples = writes ? try writeSamples(epoch: shownEpoch) : nil
                if writes {
                    try saveCheckpoint()
                    try plotLosses()
                }
                events(.epochEnd(epoch: shownEpoch, metrics: results, samples: samples))
                events(.checkpoint(directory.checkpoint, step: step))
            }
        }
        return true
    }

    /// The model's test metrics (its `metric` lines) over the test split.
    public func evaluate() throws -> [(name: String, value: Double)] {
        guard definition.canEvaluate else { return [] }
        var evalConfig = config
        evalConfig.seed = config.seed ^ 0x4556_414C  // the same noise every epoch
        return try Evaluator(definition: definition, parameters: trainer.session.parameters, config: evalConfig, planCache: planCache)
            .evaluate(test).map { ("test_" + $0.name, $0.value) }
    }

    /// Draws the per-epoch sample grid, if the model can sample.
    private func writeSamples(epoch: Int) throws -> URL? {
        guard options.sampleCount > 0 else { return nil }
        if !definition.translations.isEmpty { return try writeTranslations(epoch: epoch) }
        guard definition.canSample else { return nil }
        var sampleConfig = config
        sampleConfig.seed = config.seed ^ 0x5A4D_504C_4553  // the same noise every epoch, so grids compare
        let images = try Sampler(definition: definition, parameters: trainer.session.parameters, config: sampleConfig)
            .sample(count: options.sampleCount)
        let url = directory.samples.appendingPathComponent(String(format: "epoch_%03d.png", epoch + 1))
        try ImageGrid(range: model.encoding.range, scale: 2).write(images.scalars, shape: images.shape.dims, to: url.path)
        return url
    }

    /// A model that translates draws the first test images of each source domain (up to
    /// `sampleCount` in all) beside their translations, a row of up to 8 pairs per direction and row.
    private func writeTranslations(epoch: Int) throws -> URL {
        let translator = Translator(definition: definition, parameters: trainer.session.parameters, config: config)
        let perDirection = max(1, options.sampleCount / definition.translations.count)
        let columns = min(8, perDirection)
        var tiles: [Float] = []
        for t in definition.translations {
            let all = try translator.images(of: t.source, in: test)
            // Whole rows of pairs, so each direction starts a row of its own.
            let count = max(1, min(perDirection, all.count / 784) / columns * columns)
            let images = Array(all[..<(min(count, all.count / 784) * 784)])
            let translated = try translator.translate(images, from: t.source)
            for k in 0..<(images.count / 784) {
                let image = (k * 784)..<((k + 1) * 784)
                tiles += images[image]
                tiles += translated[image]
            }
        }
        let url = directory.samples.appendingPathComponent(String(format: "epoch_%03d.png", epoch + 1))
        try ImageGrid(range: model.encoding.range, columns: 2 * columns, scale: 2).write(tiles, shape: [tiles.count / 784, 1, 28, 28], to: url.path)
        return url
    }

    private func plotLosses() throws {
        let table = try MetricsCSV.read(directory.metrics.path)
        let series = model.objectives.map(\.name).compactMap { table.series(x: "step", y: $0) }
        try LossPlot(series: series, title: "\(definition.name) training loss").write(to: directory.lossPlot.path)
    }
}

extension ModelDefinition {
    /// The model's `epochs` hyper-parameter (how long the zoo trains it by default), else 1.
    public var defaultEpochs: Int {
        for h in hyperParameters where h.name == "epochs" {
            if case .integer(let n) = h.value, n >= 1 { return n }
        }
        return 1
    }
}

extension PixelEncoding {
    /// The value range images of this encoding take, samples included: a model of `bytes`
    /// dequantises them to x = (u8 + v) / 256 in [0, 1) and samples in [0, 1].
    public var range: ClosedRange<Float> { self == .symmetric ? -1...1 : 0...1 }
}
