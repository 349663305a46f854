extension Model {
    /// The model's training batches over `split`: one batch of each domain at a time for a model
    /// with domains (`DomainBatchIterator`), else batches of the whole split; `batchSize` images
    /// (of each domain) per batch, the model's own batch size by default.
    public func batches(of split: MNISTSplit, shuffle: Bool, seed: UInt64, batchSize: Int? = nil) throws -> any BatchSource {
        let batchSize = batchSize ?? self.batchSize
        return domains.isEmpty
            ? try BatchIterator(split: split, batchSize: batchSize, encoding: encoding, shuffle: shuffle, seed: seed)
            : try DomainBatchIterator(split: split, domains: domains, batchSize: batchSize, encoding: encoding, shuffle: shuffle, seed: seed)
    }
}

extension Model {
    /// The names the trainer feeds a batch's images to: the images input, or one per domain.
    var imageInputNames: [String] { domains.isEmpty ? [images.inputName ?? "x"] : domains.map(\.input) }

    /// Refuses, before a run starts, a split the trainer could not feed this model (`checkFeeds`).
    public func checkFeeds(_ split: MNISTSplit, classes: Int, _ what: String) throws {
        try GenGraph.checkFeeds(graph, images: imageInputNames, labels: labels, batch: batchSize, classes: classes, split, what)
    }
}

extension Tensor {
    /// The name this tensor is fed as, when it is an input.
    var inputName: String? {
        if case .input(let name) = node.op { return name }
        return nil
    }
}

/// Refuses `split` (`what`: "the training split") for a graph whose `images` inputs and `labels`
/// cannot take its batches: images are fed as [batch, 1, 28, 28] (the trainer, evaluator and
/// sampler all work in 28 x 28 images), labels as [batch] class ids that must be below `classes`.
/// Checked when the data meets the model, so a run fails before it starts, at the input's
/// declaration (`Node.origin`), not at its first step.
func checkFeeds(_ graph: Graph, images: [String], labels: Tensor?, batch: Int, classes: Int, _ split: MNISTSplit, _ what: String) throws {
    guard split.rows == 28, split.cols == 28 else {
        throw GraphError(op: "data", "\(what) holds \(split.rows) x \(split.cols) images; models are fed 28 x 28 ones")
    }
    let fed = Shape([batch, 1, 28, 28])
    for node in graph.nodes {
        guard case .input(let name) = node.op, images.contains(name), node.shape != fed else { continue }
        throw GraphError(op: "input", "images input '\(name)' is declared \(node.shape), but images are fed as \(fed): "
                         + "declare it images[batch, 1, 28, 28]", origin: node.origin)
    }
    guard let labels else { return }
    let name = labels.inputName ?? "y"
    if labels.shape != [batch] {
        throw GraphError(op: "input", "labels input '\(name)' is declared \(labels.shape), but labels are fed one per image, [\(batch)]: "
                         + "declare it labels[batch]", origin: labels.node.origin)
    }
    if let index = split.labels.firstIndex(where: { Int($0) >= classes }) {
        throw GraphError(op: "input", "labels input '\(name)' has \(classes) classes ('of \(classes)'), but \(what) has the label "
                         + "\(split.labels[index]) (example \(index))", origin: labels.node.origin)
    }
}
