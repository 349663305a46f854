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
}

extension Tensor {
    /// The name this tensor is fed as, when it is an input.
    var inputName: String? {
        if case .input(let name) = node.op { return name }
        return nil
    }
}
