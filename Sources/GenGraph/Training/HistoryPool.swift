/// The images a `History` keeps between training steps, and its draws (docs/zoo.md's
/// `cyclegan`, the original CycleGAN's image pool): while it holds fewer than `capacity`
/// images each new image goes in and is used; afterwards each new image, with probability
/// 1/2, swaps places with a uniformly chosen stored one, which is used instead, and otherwise
/// is used itself. The coin and the slot of draw d come from (seed, pool, d) alone, so the
/// draws depend on the run's seed only and a resumed pool continues exactly.
public struct HistoryPool: Equatable {
    public let capacity: Int
    /// Values in one image (784 for 1 x 28 x 28).
    public let imageSize: Int
    /// The stored images, one after another, `count * imageSize` values.
    public private(set) var images: [Float]
    /// Batches drawn so far.
    public private(set) var draws: UInt64
    private let seed: UInt64

    public var count: Int { images.count / imageSize }

    /// An empty pool; `index` (the history's position in the model) gives each pool of a run draws of its own.
    public init(capacity: Int, imageSize: Int, seed: UInt64, index: Int) {
        self.capacity = capacity
        self.imageSize = imageSize
        var mixer = SplitMix64(seed: seed, stream: 0x504F_4F4C &+ UInt64(index))
        self.seed = mixer.next()
        images = []
        draws = 0
    }

    /// The images to use in place of `batch` (whole images, one after another), updating the pool.
    public mutating func draw(_ batch: [Float]) -> [Float] {
        precondition(batch.count % imageSize == 0, "a batch of whole images")
        var generator = SplitMix64(seed: seed, stream: draws)
        draws += 1
        var used = batch
        for start in stride(from: 0, to: batch.count, by: imageSize) {
            let image = batch[start..<(start + imageSize)]
            if count < capacity {
                images += image
            } else if generator.next() >> 63 == 0 {
                let slot = generator.next(below: capacity) * imageSize
                used.replaceSubrange(start..<(start + imageSize), with: images[slot..<(slot + imageSize)])
                images.replaceSubrange(slot..<(slot + imageSize), with: image)
            }
        }
        return used
    }

    /// Continues a saved pool: its first `count` images of `stored` and its draw count.
    public mutating func restore(stored: [Float], count: Int, draws: UInt64) throws {
        guard (0...capacity).contains(count), stored.count >= count * imageSize else {
            throw GraphError(op: "history", "a saved pool of \(count) images does not fit a pool of \(capacity)")
        }
        images = Array(stored[..<(count * imageSize)])
        self.draws = draws
    }
}
