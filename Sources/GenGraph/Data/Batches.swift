/// A minibatch: `size` images, flattened and encoded, and their labels.
public struct Batch: Sendable {
    /// `size * pixelsPerImage` encoded pixels, image by image, each row-major.
    public internal(set) var images: [Float]
    /// One class label per image.
    public internal(set) var labels: [Int32]

    /// Number of examples in the batch.
    public var size: Int { labels.count }
}

/// Walks a split in fixed-size minibatches, in a fresh seeded order each epoch.
///
/// The order of epoch `e` depends only on `(seed, e)`, so a run can be reproduced or resumed
/// at any epoch. The last partial batch of an epoch is dropped so every batch has the same
/// shape. Batches are filled into storage the iterator reuses: a caller that lets go of each
/// batch before asking for the next one causes no allocation.
public struct BatchIterator: IteratorProtocol {
    /// Examples per batch.
    public let batchSize: Int
    /// How pixels are turned into Floats.
    public let encoding: PixelEncoding
    /// Whether each epoch visits the examples in a shuffled order (otherwise in file order).
    public let shuffle: Bool
    /// The seed the per-epoch orders derive from.
    public let seed: UInt64
    /// The epoch whose batches `next()` returns.
    public private(set) var epoch = 0

    private let split: MNISTSplit
    private let table: [Float]
    /// The example indices of the current epoch, in visiting order.
    private(set) var order: [Int]
    private var nextBatchIndex = 0
    private var batch: Batch

    /// Whole batches in an epoch; the remaining `split.count % batchSize` examples are skipped.
    public var batchesPerEpoch: Int { split.count / batchSize }

    /// Prepares epoch 0 of `split`; throws `DataError.invalidBatchSize` unless `1 <= batchSize <= split.count`.
    public init(split: MNISTSplit, batchSize: Int, encoding: PixelEncoding = .unitInterval,
                shuffle: Bool = true, seed: UInt64 = 0) throws {
        guard batchSize >= 1, batchSize <= split.count else {
            throw DataError.invalidBatchSize(batchSize: batchSize, exampleCount: split.count)
        }
        self.split = split
        self.batchSize = batchSize
        self.encoding = encoding
        self.shuffle = shuffle
        self.seed = seed
        table = encoding.table
        order = Array(0..<split.count)
        batch = Batch(images: [Float](repeating: 0, count: batchSize * split.pixelsPerImage),
                      labels: [Int32](repeating: 0, count: batchSize))
        start(epoch: 0)
    }

    /// Rewinds to the first batch of `epoch`, in that epoch's order.
    public mutating func start(epoch: Int) {
        self.epoch = epoch
        nextBatchIndex = 0
        // Resetting to file order before shuffling makes the order a function of (seed, epoch) alone.
        for i in order.indices { order[i] = i }
        guard shuffle else { return }
        var generator = SplitMix64(seed: seed, stream: UInt64(bitPattern: Int64(epoch)))
        // Fisher–Yates: each of the n! orders is equally likely given uniform draws.
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.next(below: i + 1))
        }
    }

    /// The next batch of the current epoch, or nil once fewer than `batchSize` examples remain.
    public mutating func next() -> Batch? {
        guard nextBatchIndex < batchesPerEpoch else { return nil }
        let first = nextBatchIndex * batchSize
        nextBatchIndex += 1
        split.encode(rows: order[first..<(first + batchSize)], table: table, into: &batch.images)
        for slot in 0..<batchSize {
            batch.labels[slot] = Int32(split.labels[order[first + slot]])
        }
        return batch
    }
}

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and bit-identical on every platform,
/// which a reproducible shuffle needs and the standard library's generator does not promise.
struct SplitMix64 {
    private static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var state: UInt64

    /// A generator for one (seed, stream) pair; streams of one seed are unrelated sequences.
    init(seed: UInt64, stream: UInt64) {
        // Mixing the stream index keeps nearby streams from being shifted copies of each other,
        // which they would be if it were simply added to the seed.
        state = seed ^ Self.mix(stream &+ Self.increment)
    }

    mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// A draw from `0..<bound`, via the high half of a 128-bit product; the bias is at most
    /// bound / 2^64, far below anything a shuffle could show.
    mutating func next(below bound: Int) -> Int {
        Int(UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
