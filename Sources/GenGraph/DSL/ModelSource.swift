import Foundation

/// A model written in the graph DSL (`docs/dsl.md`), parsed and checked.
///
///     let source = try ModelSource.parse(text, file: "vae.gg")
///     let model = try source.definition(overrides: ["latent": "32"]).instantiate(batch: 4)
public struct ModelSource {
    /// The name errors and node origins use for the file.
    public let file: String
    public let text: String
    let declaration: ModelDeclaration
    let lowering: ModelLowering
    let sourceText: SourceText

    /// The name after `model`.
    public var name: String { declaration.name }
    /// The string after the model's name.
    public var summary: String { declaration.summary }

    /// Parses `.gg` text; `file` names it in errors (`vae.gg:12:5: error: ...`).
    public static func parse(_ text: String, file: String) throws -> ModelSource {
        // Sized before anything splits or lexes the text.
        try DSLLimits.checkSize(text.utf8.count, file: file)
        let sourceText = SourceText(text, file: file)
        return try sourceText.reporting {
            let declaration = try Parser.parse(text, file: file)
            return ModelSource(file: file, text: text, declaration: declaration, lowering: try ModelLowering(declaration),
                               sourceText: sourceText)
        }
    }

    /// Reads and parses the `.gg` file at `path`.
    public static func load(path: String) throws -> ModelSource {
        try parse(read(path: path, file: path), file: path)
    }

    /// The text of the model file at `path`; errors name it as `file`. Each way a path can fail
    /// to be a model's text (missing, unreadable, a directory or device, too large, not UTF-8)
    /// is said in words, at 1:1 or where the first invalid byte is.
    static func read(path: String, file: String) throws -> String {
        func refuse(_ message: String, line: Int = 1, column: Int = 1, sourceLine: String = "") -> DSLError {
            DSLError("cannot read the model: " + message, at: SourceLocation(file: file, line: line, column: column), sourceLine: sourceLine)
        }
        if let reason = OutputFile.unreadable(path) { throw refuse(reason) }
        var status = stat()
        guard stat(path, &status) == 0 else { throw refuse(String(cString: strerror(errno))) }
        // Sized before reading, so a huge file is refused without being read.
        try DSLLimits.checkSize(Int(status.st_size), file: file)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw refuse(String(cString: strerror(errno)))
        }
        defer { try? handle.close() }
        let bytes: Data
        do {
            // One byte past the limit is enough to refuse a file that grew since it was sized.
            bytes = try handle.read(upToCount: DSLLimits.sourceBytes + 1) ?? Data()
        } catch {
            throw refuse(error.localizedDescription)
        }
        try DSLLimits.checkSize(bytes.count, file: file)
        if let text = String(data: bytes, encoding: .utf8) { return text }
        // Locate the first invalid byte so the message says where to look.
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while case .valid(let scalar) = parser.parseScalar(from: &iterator) { offset += scalar.count }
        let before = bytes.prefix(offset)
        let lineStart = (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? before.startIndex
        let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = String(decoding: before[lineStart...], as: UTF8.self).count + 1
        let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        throw refuse(String(format: "it is not valid UTF-8 (byte 0x%02X at byte offset %d)", bytes[bytes.startIndex + offset], offset),
                     line: line, column: column, sourceLine: String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self))
    }

    /// The hyper-parameters with `overrides` (name to value text) applied.
    public func hyperParameters(overrides: [String: String] = [:]) throws -> [HyperParameter] {
        try sourceText.reporting { try HyperResolution(declaration, overrides: overrides).parameters }
    }

    /// The model as a `ModelDefinition`, with `overrides` (such as `["latent": "32"]`) applied.
    /// Builds the training and sampling graphs once, so every shape error surfaces here.
    public func definition(overrides: [String: String] = [:]) throws -> ModelDefinition {
        let (lowering, declaration, source) = (self.lowering, self.declaration, self.sourceText)
        let hypers = try sourceText.reporting { try HyperResolution(declaration, overrides: overrides) }
        let (batch, encoding, classes, domains) = try sourceText.reporting { () -> (Int, PixelEncoding, Int, [ImageDomain]) in
            guard case .integer(let b)? = hypers.values["batch"] else {
                throw Diagnostic("the model needs a positive integer 'hyper batch = <size>'", at: declaration.location)
            }
            guard case .images(let encoding) = lowering.images.kind else { throw Diagnostic("no images input", at: declaration.location) }
            return (b, encoding, try lowering.classes(hypers), try lowering.domains(hypers))
        }
        let translations = lowering.translations.map { Translation(source: $0.source.name, target: $0.target.name, function: $0.function.name) }
        let build = { (graph: Graph, b: Int, purpose: BuildPurpose) in
            try source.reporting {
                let atBatch = try HyperResolution(declaration, overrides: overrides.merging(["batch": "\(b)"]) { _, new in new })
                return try lowering.build(graph, atBatch, purpose: purpose)
            }
        }
        let sampler = lowering.sample == nil ? nil : { (graph: Graph, n: Int, temperature: Float) in
            try source.reporting { try lowering.sample(graph, count: n, temperature: temperature, hypers) }
        }
        // Functions see the definition's hyper-parameters (`batch` is its default batch).
        let functions = lowering.callableFunctions.map { f in
            ModelFunction(name: f.name, parameters: f.parameters, isNetwork: f.isNetwork) { graph, arguments, training in
                try source.reporting { try lowering.call(f, arguments, graph: graph, hypers, training: training) }
            }
        }
        let definition = ModelDefinition(name: declaration.name, summary: declaration.summary, defaultBatch: batch,
                                         encoding: encoding, classes: classes, hyperParameters: hypers.parameters,
                                         source: text, metrics: lowering.metrics.map(\.name), functions: functions,
                                         build: build, temperedSampler: sampler, takesTemperature: lowering.sample?.temperature != nil,
                                         domains: domains, translations: translations)
        let model = try definition.instantiate()
        let sampleGraph = try definition.sampleGraph(count: 1)
        let trained = Set(model.objectives.flatMap(\.parameters).compactMap { t -> String? in
            if case .parameter(let name) = t.node.op { return name }
            return nil
        })
        if let evaluation = try definition.evaluationGraph() {
            try source.reporting { try lowering.checkMetricParameters(evaluation, trained: trained) }
        }
        try source.reporting {
            if let sampleGraph { try lowering.checkSampleParameters(sampleGraph, trained: trained) }
            try lowering.checkTranslationParameters(trained: trained, hypers)
        }
        return definition
    }
}
