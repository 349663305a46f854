extension MNISTSplit {
    /// The split's examples of class `label`, in file order.
    public func selecting(label: Int) -> MNISTSplit {
        let kept = labels.indices.filter { Int(labels[$0]) == label }
        var pixels: [UInt8] = []
        pixels.reserveCapacity(kept.count * pixelsPerImage)
        for i in kept { pixels += self.pixels[(i * pixelsPerImage)..<((i + 1) * pixelsPerImage)] }
        return MNISTSplit(count: kept.count, rows: rows, cols: cols, pixels: pixels, labels: kept.map { labels[$0] })
    }

    init(count: Int, rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8]) {
        self.count = count
        self.rows = rows
        self.cols = cols
        self.pixels = pixels
        self.labels = labels
    }
}

/// Anything that walks a split in batches, epoch by epoch (`BatchIterator`, `DomainBatchIterator`).
public protocol BatchSource {
    /// Whole batches in an epoch.
    var batchesPerEpoch: Int { get }
    /// Rewinds to the first batch of `epoch`, in that epoch's order.
    mutating func start(epoch: Int)
    /// The next batch of the current epoch, or nil at its end.
    mutating func next() -> Batch?
}

extension BatchIterator: BatchSource {}

/// Unpaired batches of several domains (docs/zoo.md's `cyclegan`): each batch is one batch of
/// each domain's images, one after another, each domain visiting its own images in an order of
/// its own every epoch (drawn from the seed, the epoch and the domain), so that pairs are never
/// fixed. An epoch is as many batches as the smallest domain fills.
public struct DomainBatchIterator: BatchSource {
    private var domains: [BatchIterator]
    /// Batches returned in the current epoch (a larger domain has images left after its end).
    private var taken = 0

    /// Throws `DataError.invalidBatchSize` when a domain has fewer than `batchSize` images.
    public init(split: MNISTSplit, domains: [ImageDomain], batchSize: Int, encoding: PixelEncoding,
                shuffle: Bool = true, seed: UInt64 = 0) throws {
        self.domains = try domains.enumerated().map { k, domain in
            var mixer = SplitMix64(seed: seed, stream: UInt64(k))
            return try BatchIterator(split: split.selecting(label: domain.label), batchSize: batchSize, encoding: encoding,
                                     shuffle: shuffle, seed: mixer.next())
        }
    }

    public var batchesPerEpoch: Int { domains.map(\.batchesPerEpoch).min() ?? 0 }

    public mutating func start(epoch: Int) {
        for k in domains.indices { domains[k].start(epoch: epoch) }
        taken = 0
    }

    public mutating func next() -> Batch? {
        guard taken < batchesPerEpoch else { return nil }
        var joined = Batch(images: [], labels: [])
        for k in domains.indices {
            guard let batch = domains[k].next() else { return nil }
            joined.images += batch.images
            joined.labels += batch.labels
        }
        taken += 1
        return joined
    }
}
