/// One rank's part of every global batch in data-parallel training. The source yields global
/// batches of B images (B of each domain, one domain after another, for a model with domains);
/// rank r of N gets rows r·B/N ..< (r+1)·B/N of each domain's part. Every rank walks the same
/// global order (same seed), so the ranks' slices are disjoint and together make the batch.
public struct RankSlices: BatchSource {
    private var source: any BatchSource
    private let rank: Int
    private let ranks: Int
    private let domains: Int

    /// `source`'s batches must hold a multiple of `ranks` images of each of `domains` domains.
    public init(_ source: any BatchSource, rank: Int, of ranks: Int, domains: Int) {
        self.source = source
        self.rank = rank
        self.ranks = ranks
        self.domains = max(1, domains)
    }

    public var batchesPerEpoch: Int { source.batchesPerEpoch }

    public mutating func start(epoch: Int) { source.start(epoch: epoch) }

    public mutating func next() -> Batch? {
        guard let global = source.next() else { return nil }
        let perDomain = global.size / domains, rows = perDomain / ranks
        let pixels = global.images.count / max(1, global.size)
        var slice = Batch(images: [], labels: [])
        slice.images.reserveCapacity(rows * domains * pixels)
        for d in 0..<domains {
            let first = d * perDomain + rank * rows
            slice.images += global.images[(first * pixels)..<((first + rows) * pixels)]
            slice.labels += global.labels[first..<(first + rows)]
        }
        return slice
    }
}
