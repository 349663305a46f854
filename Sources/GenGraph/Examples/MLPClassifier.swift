import Foundation

/// The engine core's end-to-end example: a 784-256-10 MLP classifier trained
/// eagerly through the Swift API (docs/mlp-example.md walks through it).
public enum MLPClassifierExample {
    public struct Options {
        public var trainCount = 2000
        public var testCount = 1000
        public var epochs = 10
        public var batchSize = 50
        public var learningRate: Float = 1e-3
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result {
        /// Mean training loss of each epoch.
        public var epochLosses: [Float]
        /// The images used: the counts asked for, or fewer where a split holds fewer.
        public var trainCount: Int
        public var testCount: Int
        public var testAccuracy: Double
        public var seconds: Double
        public var stepsPerSecond: Double
    }

    /// Builds the model's logits for images `x` (batch, 784); the parameters
    /// are shared by every call on the same graph (they are named).
    public static func logits(_ x: Tensor) throws -> Tensor {
        try x.dense(256, name: "fc1").relu().dense(10, name: "fc2")
    }

    /// Trains on the first `trainCount` training images and measures accuracy
    /// on the first `testCount` test images. `progress` gets (epoch, mean loss).
    public static func run(dataDirectory: String = MNISTDataset.defaultDirectory, options: Options = Options(),
                           config: RunConfig, progress: (Int, Float) -> Void = { _, _ in }) throws -> Result {
        let train = try MNISTDataset.split(.train, directory: dataDirectory, limit: options.trainCount)
        let test = try MNISTDataset.split(.test, directory: dataDirectory, limit: options.testCount)

        let g = Graph()
        let b = options.batchSize
        let x = try g.input("x", [b, 784])
        let y = try g.input("y", [b])
        let loss = try crossEntropy(logits: logits(x), labels: y)
        let testX = try g.input("test_x", [test.count, 784])
        let testLogits = try logits(testX)

        var config = config
        config.seed = options.seed
        let session = try Session(graph: g, config: config)
        let step = try session.minimize(loss, using: .adam(learningRate: options.learningRate))

        var batches = try BatchIterator(split: train, batchSize: b, encoding: .unitInterval, shuffle: true, seed: options.seed)
        var epochLosses: [Float] = []
        var steps = 0
        let start = Date()
        for epoch in 0..<options.epochs {
            batches.start(epoch: epoch)
            var total: Float = 0, count = 0
            while let batch = batches.next() {
                let feeds = ["x": try TensorValue(shape: [b, 784], scalars: batch.images),
                             "y": try TensorValue(shape: [b], scalars: batch.labels.map(Float.init))]
                total += try session.train(step, feeds: feeds)
                count += 1
            }
            steps += count
            epochLosses.append(total / Float(max(count, 1)))
            progress(epoch, epochLosses.last!)
        }
        let seconds = Date().timeIntervalSince(start)

        let scores = try session.run([testLogits], feeds: ["test_x": TensorValue(shape: [test.count, 784], scalars: test.images(.unitInterval))])[0].scalars
        var correct = 0
        for i in 0..<test.count {
            let row = scores[(i * 10)..<(i * 10 + 10)]
            if row.firstIndex(of: row.max()!)! - i * 10 == Int(test.labels[i]) { correct += 1 }
        }
        return Result(epochLosses: epochLosses, trainCount: train.count, testCount: test.count, testAccuracy: Double(correct) / Double(test.count),
                      seconds: seconds, stepsPerSecond: Double(steps) / seconds)
    }
}
