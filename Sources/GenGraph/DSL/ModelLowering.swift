/// A parsed model, checked and ready to build its training and sampling
/// graphs for any resolved hyper-parameters.
struct ModelLowering {
    let model: ModelDeclaration
    let layerNames: [SourceLocation: String]
    /// Functions whose layers exist only under the prefixes of `as` calls (`LayerNaming`).
    let templates: Set<String>
    /// The prefixes of `as` calls, which `over` may name like networks.
    let instances: Set<String>
    let functions: [String: FunctionDeclaration]
    let initScheme: InitScheme
    let images: InputDeclaration
    /// Every images input, in declaration order: one, or several that take a class each (domains).
    let imageInputs: [InputDeclaration]
    let labels: InputDeclaration?
    let translations: [TranslateDeclaration]
    let sample: SampleDeclaration?
    /// `def`s and `network`s in declaration order.
    let functionOrder: [FunctionDeclaration]
    let metrics: [MetricDeclaration]

    init(_ model: ModelDeclaration) throws {
        self.model = model
        (layerNames, templates, instances) = try LayerNaming.resolve(model)
        var functions: [String: FunctionDeclaration] = [:]
        var functionOrder: [FunctionDeclaration] = [], metrics: [MetricDeclaration] = []
        var schemes: [(InitScheme, SourceLocation)] = []
        var images: [InputDeclaration] = [], labels: [InputDeclaration] = [], samples: [SampleDeclaration] = []
        var translations: [TranslateDeclaration] = []
        for declaration in model.declarations {
            switch declaration {
            case .function(let f):
                functions[f.name] = f
                functionOrder.append(f)
            case .metric(let m):
                if metrics.contains(where: { $0.name == m.name }) { throw Diagnostic("metric '\(m.name)' is declared twice", at: m.location) }
                metrics.append(m)
            case .initScheme(let s, let l): schemes.append((s, l))
            case .input(let i):
                if case .images = i.kind { images.append(i) } else { labels.append(i) }
            case .sample(let s): samples.append(s)
            case .translate(let t): translations.append(t)
            case .hyper, .assignment, .phase: break
            }
        }
        if schemes.count > 1 { throw Diagnostic("'init' is given twice", at: schemes[1].1) }
        guard let image = images.first else { throw Diagnostic("the model needs an images input, such as 'input x : images[batch, 1, 28, 28] unit'", at: model.location) }
        try Self.checkDomains(images, labels: labels)
        if labels.count > 1 { throw Diagnostic("a model has at most one labels input", at: labels[1].location) }
        if samples.count > 1 { throw Diagnostic("a model has at most one 'sample'", at: samples[1].location) }
        self.functions = functions
        self.functionOrder = functionOrder
        self.metrics = metrics
        initScheme = schemes.first?.0 ?? .torch
        self.images = image
        imageInputs = images
        self.labels = labels.first
        sample = samples.first
        self.translations = translations
        try checkTranslations()
    }

    /// Several images inputs are domains: each takes one class, all in one pixel range, and the
    /// class picks their data, so there are no labels to feed.
    private static func checkDomains(_ images: [InputDeclaration], labels: [InputDeclaration]) throws {
        guard images.count > 1 || images.contains(where: { $0.domainClass != nil }) else { return }
        if let plain = images.first(where: { $0.domainClass == nil }) {
            throw Diagnostic("a model with several images inputs takes one class in each, such as 'input \(plain.name) : images[batch, 1, 28, 28] symmetric class 7'",
                             at: plain.location)
        }
        if let l = labels.first { throw Diagnostic("a model whose images inputs take one class each has no labels input", at: l.location) }
        guard case .images(let encoding) = images[0].kind else { return }
        for other in images.dropFirst() {
            if case .images(let e) = other.kind, e != encoding {
                throw Diagnostic("every images input needs the pixel range of '\(images[0].name)'", at: other.location)
            }
        }
    }

    /// `translate a -> b with f`: two different domains, and a callable one-argument function, once per source.
    private func checkTranslations() throws {
        let domains = Set(imageInputs.filter { $0.domainClass != nil }.map(\.name))
        var sources: Set<String> = []
        for t in translations {
            for end in [t.source, t.target] where !domains.contains(end.name) {
                throw Diagnostic("'\(end.name)' is not an images input that takes a class (a domain)", at: end.location)
            }
            if t.source.name == t.target.name { throw Diagnostic("a translation needs two different domains", at: t.target.location) }
            if !sources.insert(t.source.name).inserted {
                throw Diagnostic("images of '\(t.source.name)' are already translated by an earlier 'translate'", at: t.location)
            }
            guard let f = functions[t.function.name] else { throw Diagnostic("unknown function '\(t.function.name)'", at: t.function.location) }
            guard f.parameters.count == 1, callableFunctions.contains(where: { $0.name == f.name }) else {
                throw Diagnostic("'\(f.name)' must take one argument, the images, and return one tensor", at: t.function.location)
            }
        }
    }

    /// The domains, one per images input with a class (none for a single images input without).
    func domains(_ hypers: HyperResolution) throws -> [ImageDomain] {
        let lowering = lowering(Graph(), hypers, training: true)
        var seen: [Int: String] = [:]
        return try imageInputs.compactMap { input -> ImageDomain? in
            guard let e = input.domainClass else { return nil }
            guard case .integer(let label) = try lowering.evaluate(e, scope: [:]), (0..<MNISTDataset.classCount).contains(label) else {
                throw Diagnostic("a domain's class must be an integer in 0...\(MNISTDataset.classCount - 1)", at: e.location)
            }
            if let other = seen.updateValue(input.name, forKey: label) {
                throw Diagnostic("'\(other)' already takes class \(label)", at: e.location)
            }
            return ImageDomain(input: input.name, label: label)
        }
    }

    /// The functions a caller outside the model can build (`ModelDefinition.functions`): those that
    /// return one value and whose layers have names of their own (no instance templates).
    var callableFunctions: [FunctionDeclaration] {
        functionOrder.filter { f in
            if case .list = f.body.result { return false }
            return !templates.contains(f.name)
        }
    }

    private func lowering(_ graph: Graph, _ hypers: HyperResolution, training: Bool, canvas: (String, Shape)? = nil) -> Lowering {
        Lowering(graph: graph, hypers: hypers.values, hyperOrigins: hypers.origins, functions: functions, layerNames: layerNames,
                 initScheme: initScheme, training: training, canvas: canvas)
    }

    /// The images' shape, such as [batch, 1, 28, 28].
    func imageShape(_ hypers: HyperResolution) throws -> Shape {
        try shape(images, hypers)
    }

    /// Classes of the labels input, 0 without one.
    func classes(_ hypers: HyperResolution) throws -> Int {
        guard let labels, case .labels(let expression) = labels.kind else { return 0 }
        let value = try lowering(Graph(), hypers, training: true).evaluate(expression, scope: [:])
        guard case .integer(let n) = value, (1...DSLLimits.classes).contains(n) else {
            throw Diagnostic("the number of classes must be an integer in 1...\(DSLLimits.classes), got \(value.kindDescription)",
                             at: expression.location)
        }
        return n
    }

    private func shape(_ input: InputDeclaration, _ hypers: HyperResolution) throws -> Shape {
        let lowering = lowering(Graph(), hypers, training: true)
        let shape = Shape(try input.shape.map { e in
            guard case .integer(let d) = try lowering.evaluate(e, scope: [:]), d >= 1 else {
                throw Diagnostic("an input dimension must be a positive integer", at: e.location)
            }
            return d
        })
        do {
            _ = try shape.checkedCount(op: "input")
        } catch let error as GraphError {
            throw Diagnostic(error.description, at: input.location)
        }
        return shape
    }

    /// Builds the statements in order after the inputs, then for training one step's phases
    /// (metrics are skipped), for evaluation the metrics where they are written (batch norm on
    /// running statistics, objectives skipped).
    func build(_ graph: Graph, _ hypers: HyperResolution, purpose: BuildPurpose) throws -> ModelParts {
        let training = purpose == .training
        let lowering = lowering(graph, hypers, training: training)
        // Nodes built later (gradients, optimiser steps) do not come from a line of this file.
        defer { graph.currentOrigin = nil }
        var scope: [String: Value] = [:]
        var phases: [PhaseDeclaration] = []
        var metrics: [EvaluationGraph.Metric] = []
        for declaration in model.declarations {
            switch declaration {
            case .input(let input):
                if scope[input.name] != nil || hypers.values[input.name] != nil {
                    throw Diagnostic("'\(input.name)' is already defined", at: input.location)
                }
                graph.currentOrigin = input.location.description
                scope[input.name] = .tensor(try graph.input(input.name, shape(input, hypers)))
            case .assignment(let a):
                try lowering.assign(a, into: &scope)
            case .phase(let p):
                phases.append(p)
            case .metric(let m) where !training:
                metrics.append(try metric(m, lowering: lowering, scope: scope, batch: imageShape(hypers)[0]))
            case .hyper, .initScheme, .function, .sample, .metric, .translate:
                break
            }
        }
        guard case .tensor(let x) = scope[images.name] else { throw Diagnostic("the images input was reassigned", at: images.location) }
        var y: Tensor?
        if let labels {
            guard case .tensor(let t) = scope[labels.name] else { throw Diagnostic("the labels input was reassigned", at: labels.location) }
            y = t
        }
        guard training else { return ModelParts(images: x, labels: y, metrics: metrics) }
        if phases.isEmpty { throw Diagnostic("the model minimizes nothing; add 'minimize loss with adam(lr)'", at: model.location) }
        // Steps are counted in real batches read; a model that reads none would divide by zero.
        if !phases.contains(where: \.readsData) {
            throw Diagnostic("every phase is 'nodata'; at least one must read a real batch", at: phases[0].location)
        }
        let histories = lowering.histories.declared
        let built = try phases.map { try phase($0, graph: graph, scope: scope, lowering: lowering) }
        let model = Model(name: self.model.name, graph: graph, batchSize: x.shape[0], images: x, labels: y, phases: built,
                          encoding: .unitInterval, domains: [], histories: histories.map(\.history))
        for (history, location) in histories {
            do {
                _ = try model.route(history)
            } catch let error as GraphError {
                throw Diagnostic(error.message, at: location)
            }
        }
        return ModelParts(images: x, labels: y, phases: built, histories: histories.map(\.history))
    }

    /// A metric is a tensor with one value per example, shape [batch], or one per batch, a scalar.
    private func metric(_ m: MetricDeclaration, lowering: Lowering, scope: [String: Value], batch: Int) throws -> EvaluationGraph.Metric {
        lowering.graph.currentOrigin = m.location.description
        let value = try lowering.evaluate(m.value, scope: scope)
        guard case .tensor(let t) = value, t.shape == [] || t.shape == [batch] else {
            throw Diagnostic("metric '\(m.name)' must have one value per example, shape [\(batch)], or be a scalar, got \(value.kindDescription)",
                             at: m.value.start)
        }
        return EvaluationGraph.Metric(name: m.name, value: t)
    }

    /// Every parameter a metric reads must be trained: a layer that only a metric uses would never learn.
    func checkMetricParameters(_ evaluation: EvaluationGraph, trained: Set<String>) throws {
        for (declaration, metric) in zip(metrics, evaluation.metrics) {
            if let first = Self.untrained(evaluation.graph, [metric.value], trained: trained) {
                throw Diagnostic("metric '\(declaration.name)' reads '\(first)', a parameter that no objective trains", at: declaration.value.start)
            }
        }
    }

    /// The sample's parameters must be trained too, or sampling (and judging, and the run's sample
    /// grids) would use a layer's random initial values.
    func checkSampleParameters(_ sampler: SampleGraph, trained: Set<String>) throws {
        guard let sample else { return }
        let outputs: [Tensor]
        switch sampler.output {
        case .images(let images): outputs = [images]
        case .autoregressive(_, let logits, _): outputs = [logits]
        case .diffusion(let denoiser): outputs = [denoiser.noise]
        }
        if let first = Self.untrained(sampler.graph, outputs, trained: trained) {
            throw Diagnostic("the sample reads '\(first)', a parameter that no objective trains", at: sample.location)
        }
    }

    /// So must each translation's function's, built on one image as `gengraph translate` builds it.
    func checkTranslationParameters(trained: Set<String>, _ hypers: HyperResolution) throws {
        for t in translations {
            guard let f = functions[t.function.name] else { continue }
            let graph = Graph()
            let images = try graph.input(t.source.name, Shape([1] + imageShape(hypers).dims.dropFirst()))
            let output = try call(f, [images], graph: graph, hypers, training: false)
            if let first = Self.untrained(graph, [output], trained: trained) {
                throw Diagnostic("'\(f.name)' reads '\(first)', a parameter that no objective trains", at: t.function.location)
            }
        }
    }

    /// The first parameter `outputs` read that is not `trained`.
    private static func untrained(_ graph: Graph, _ outputs: [Tensor], trained: Set<String>) -> String? {
        graph.neededNodes(for: outputs.map(\.id)).lazy.compactMap { id -> String? in
            guard case .parameter(let name) = graph.nodes[id].op, !trained.contains(name) else { return nil }
            return name
        }.first
    }

    /// Builds the `def` or `network` `name` on `arguments` into `graph` (for a caller such as the CLI).
    func call(_ f: FunctionDeclaration, _ arguments: [Tensor], graph: Graph, _ hypers: HyperResolution, training: Bool) throws -> Tensor {
        let lowering = lowering(graph, hypers, training: training)
        let caller = graph.currentOrigin
        defer { graph.currentOrigin = caller }
        let value = try lowering.apply(f, arguments.map { .tensor($0) }, at: f.location)
        guard case .tensor(let t) = value else {
            throw Diagnostic("'\(f.name)' returns \(value.kindDescription), not a tensor", at: f.body.result.start)
        }
        return t
    }

    private func phase(_ p: PhaseDeclaration, graph: Graph, scope: [String: Value], lowering: Lowering) throws -> Phase {
        var repeats = 1
        if let r = p.repeats {
            guard case .integer(let n) = try lowering.evaluate(r, scope: [:]), (1...DSLLimits.repeats).contains(n) else {
                throw Diagnostic("'repeat' needs an integer in 1...\(DSLLimits.repeats)", at: r.location)
            }
            repeats = n
        }
        let objectives = try p.objectives.map { try objective($0, graph: graph, scope: scope, lowering: lowering) }
        return Phase(objectives, repeats: repeats, readsData: p.readsData)
    }

    private func objective(_ o: ObjectiveDeclaration, graph: Graph, scope: [String: Value], lowering: Lowering) throws -> Objective {
        guard let value = scope[o.loss] else { throw Diagnostic("unknown loss '\(o.loss)'", at: o.location) }
        guard case .tensor(let loss) = value, loss.rank == 0 else {
            throw Diagnostic("the loss '\(o.loss)' must be a scalar tensor, got \(value.kindDescription)", at: o.location)
        }
        var parameters: [Tensor] = []
        for (name, location) in o.networks {
            let isNetwork = functions[name]?.isNetwork == true
            guard isNetwork || instances.contains(name) else {
                throw Diagnostic("'\(name)' is neither a network nor an instance ('f(x) as \(name)'); 'over' takes those, which own parameters",
                                 at: location)
            }
            let owned = GenGraph.parameters(of: graph, prefix: name + ".")
            if owned.isEmpty { throw Diagnostic("\(isNetwork ? "network" : "instance") '\(name)' has no parameters in this model", at: location) }
            parameters += owned
        }
        if o.networks.isEmpty { parameters = graph.parameters }
        if parameters.isEmpty { throw Diagnostic("the loss '\(o.loss)' has no parameters to train", at: o.location) }
        let rule = try optimizer(o.optimizer, lowering: lowering)
        var clip: ClosedRange<Float>?
        if let c = o.clip {
            let a = try arguments(c, specs: [ParameterSpec("min"), ParameterSpec("max")], lowering: lowering)
            let (lo, hi) = (try a.float("min"), try a.float("max"))
            guard lo <= hi else { throw Diagnostic("clip needs min <= max, got \(lo) and \(hi)", at: c.location) }
            clip = lo...hi
        }
        var clipNorm: Float?
        if let c = o.clipNorm {
            clipNorm = try arguments(c, specs: [ParameterSpec("max")], lowering: lowering).float("max", .positive)
        }
        return Objective(name: o.loss, loss: loss, parameters: parameters, rule: rule, clip: clip, clipNorm: clipNorm)
    }

    /// `adam(lr, beta1=0.9, beta2=0.999, eps=1e-8)`, `rmsprop(lr, alpha=0.99, eps=1e-8)`, `sgd(lr, momentum=0)`.
    private func optimizer(_ c: Call, lowering: Lowering) throws -> OptimizerRule {
        func spec(_ name: String, _ v: Double) -> ParameterSpec { ParameterSpec(name, .value(.real(v))) }
        let lr = ParameterSpec("lr")
        switch c.callee {
        case "adam":
            let a = try arguments(c, specs: [lr, spec("beta1", 0.9), spec("beta2", 0.999), spec("eps", 1e-8)], lowering: lowering)
            return .adam(learningRate: try a.float("lr", .positive), beta1: try a.float("beta1", .fraction),
                         beta2: try a.float("beta2", .fraction), epsilon: try a.float("eps", .nonNegative))
        case "rmsprop":
            let a = try arguments(c, specs: [lr, spec("alpha", 0.99), spec("eps", 1e-8)], lowering: lowering)
            return .rmsprop(learningRate: try a.float("lr", .positive), alpha: try a.float("alpha", .fraction),
                            epsilon: try a.float("eps", .nonNegative))
        case "sgd":
            let a = try arguments(c, specs: [lr, spec("momentum", 0)], lowering: lowering)
            return .sgd(learningRate: try a.float("lr", .positive), momentum: try a.float("momentum", .fraction))
        default:
            throw Diagnostic("unknown optimiser '\(c.callee)' (known: adam, rmsprop, sgd)", at: c.location)
        }
    }

    /// Binds a call whose arguments are numbers (hyper-parameters and literals only).
    private func arguments(_ c: Call, specs: [ParameterSpec], lowering: Lowering) throws -> Arguments {
        try Arguments(callee: c.callee, location: c.location, graph: lowering.graph, specs: specs, variadic: false,
                      values: lowering.arguments(of: c, scope: [:]))
    }

    /// Builds the `sample` graph for `count` images at `temperature` (bound to the sample's
    /// `temperature` name, if it has one), batch norm on running statistics.
    func sample(_ graph: Graph, count: Int, temperature: Float, _ hypers: HyperResolution) throws -> (labels: Tensor?, output: SampleGraph.Output) {
        guard let sample else { throw Diagnostic("the model has no 'sample'", at: model.location) }
        let imageDims = try imageShape(hypers).dims
        let expected = Shape([count] + imageDims.dropFirst())
        let lowering = lowering(graph, hypers, training: false, canvas: (images.name, expected))
        defer { graph.currentOrigin = nil }
        var scope: [String: Value] = [sample.count: .integer(count)]
        if let name = sample.temperature { scope[name] = .real(Double(temperature)) }
        var y: Tensor?
        if let name = sample.labels {
            guard let labels else { throw Diagnostic("'sample \(sample.count), \(name)' needs a labels input", at: sample.location) }
            graph.currentOrigin = sample.location.description
            y = try graph.input(labels.name, [count])
            scope[name] = .tensor(y!)
        }
        switch try lowering.run(sample.body, scope: scope) {
        case .tensor(let images):
            guard images.shape == expected else {
                throw Diagnostic("sampled images have shape \(images.shape), expected \(expected)", at: sample.body.result.location)
            }
            return (y, .images(images))
        case .autoregressive(let canvas, let logits, let function):
            return (y, .autoregressive(canvas: canvas, logits: logits, function: function))
        case .diffusion(let denoiser):
            return (y, .diffusion(denoiser))
        case let other:
            throw Diagnostic("a sample produces images, autoregressive(f) or diffusion(f, ...), got \(other.kindDescription)", at: sample.body.result.location)
        }
    }
}
