import CZlib
import Foundation
@testable import GenGraph
import XCTest

final class IDXTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "idx-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Helpers

    /// An IDX file image: zero bytes, type byte, dimension count, big-endian extents, data.
    private func idx(type: UInt8 = 0x08, shape: [Int], _ values: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for extent in shape {
            bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: extent >> $0) }
        }
        return bytes + values
    }

    /// One gzip member holding `bytes`, made with zlib's deflate in gzip mode.
    private func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        XCTAssertEqual(deflateInit2_(stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                     Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)), Z_OK)
        defer { deflateEnd(stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, UInt(bytes.count))) + 64)
        let result = input.withUnsafeMutableBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                stream.pointee.next_in = input.baseAddress
                stream.pointee.avail_in = UInt32(input.count)
                stream.pointee.next_out = output.baseAddress
                stream.pointee.avail_out = UInt32(output.count)
                return deflate(stream, Z_FINISH)
            }
        }
        XCTAssertEqual(result, Z_STREAM_END)
        return Array(output[..<Int(stream.pointee.total_out)])
    }

    @discardableResult
    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Deterministic pseudo-random bytes, so large files are not trivially compressible.
    private func noise(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    /// Asserts `body` throws a `DataError` accepted by `matches` whose message names `path`.
    private func assertDataError(naming path: String, _ body: () throws -> Void,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 matches: (DataError) -> Bool) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? DataError else {
                return XCTFail("not a DataError: \(error)", file: file, line: line)
            }
            XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), "message does not name \(path): \(error)",
                          file: file, line: line)
        }
    }

    private func assertDataError(_ expected: DataError, naming path: String, _ body: () throws -> Void,
                                 file: StaticString = #filePath, line: UInt = #line) {
        assertDataError(naming: path, body, file: file, line: line) { $0 == expected }
    }

    /// A split of `count` 2x2 images whose first pixel and label are both the example's index.
    private func indexedSplit(count: Int) throws -> MNISTSplit {
        let pixels = (0..<count).flatMap { index -> [UInt8] in [UInt8(index), 0, 128, 255] }
        let images = try write(idx(shape: [count, 2, 2], pixels), "indexed-images")
        let labels = try write(idx(shape: [count], (0..<count).map { UInt8($0) }), "indexed-labels")
        return try MNISTSplit(imagesPath: images, labelsPath: labels)
    }

    // MARK: Reading

    func testRawRoundTripAndEncodings() throws {
        let pixels: [UInt8] = [0, 127, 128, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
        let images = try write(idx(shape: [3, 2, 3], pixels), "images")
        let labels = try write(idx(shape: [3], [7, 0, 9]), "labels")
        let split = try MNISTSplit(imagesPath: images, labelsPath: labels, classCount: 10)

        XCTAssertEqual(split.count, 3)
        XCTAssertEqual(split.rows, 2)
        XCTAssertEqual(split.cols, 3)
        XCTAssertEqual(split.pixelsPerImage, 6)
        XCTAssertEqual(split.pixels, pixels)
        XCTAssertEqual(split.labels, [7, 0, 9])
        XCTAssertEqual(split.int32Labels, [7, 0, 9])
        XCTAssertEqual(split.images(.unitInterval), pixels.map { Float($0) / 255 })
        XCTAssertEqual(split.images(.symmetric), pixels.map { 2 * Float($0) / 255 - 1 })
        XCTAssertEqual(Array(split.images(.unitInterval)[..<4]), [0, 127 / 255, 128 / 255, 1])
        XCTAssertEqual(Array(split.images(.symmetric)[..<4]).first, -1)
        XCTAssertEqual(Array(split.images(.symmetric)[..<4]).last, 1)
        XCTAssertEqual(Array(split.images(.binarized)[..<4]), [0, 0, 1, 1])

        let limited = try MNISTSplit(imagesPath: images, labelsPath: labels, limit: 2)
        XCTAssertEqual(limited.count, 2)
        XCTAssertEqual(limited.pixels, Array(pixels[..<12]))
        XCTAssertEqual(limited.labels, [7, 0])
    }

    func testGzipGivesTheSameResultAsRaw() throws {
        // 3000 noisy 28x28 images: about 2.3 MB, more than one read or inflate chunk.
        let count = 3000
        let pixels = noise(count * 28 * 28)
        let labels = noise(count, seed: 7).map { $0 % 10 }
        let rawImages = idx(shape: [count, 28, 28], pixels)
        let rawLabels = idx(shape: [count], labels)
        let raw = try MNISTSplit(imagesPath: write(rawImages, "images"), labelsPath: write(rawLabels, "labels"))
        let gzipped = try MNISTSplit(imagesPath: write(gzip(rawImages), "images.gz"),
                                     labelsPath: write(gzip(rawLabels), "labels.gz"))
        XCTAssertEqual(raw.pixels, pixels)
        XCTAssertEqual(gzipped.pixels, raw.pixels)
        XCTAssertEqual(gzipped.labels, raw.labels)
        XCTAssertEqual([gzipped.count, gzipped.rows, gzipped.cols], [count, 28, 28])

        // Detection is by content, not name; and concatenated gzip members form one file.
        let half = rawImages.count / 2
        let members = try gzip(Array(rawImages[..<half])) + gzip(Array(rawImages[half...]))
        let multi = try MNISTSplit(imagesPath: write(members, "images-no-extension"),
                                   labelsPath: write(rawLabels, "labels"))
        XCTAssertEqual(multi.pixels, pixels)
    }

    func testDatasetLoadsRawOrGzippedStandardNames() throws {
        let train = idx(shape: [4, 28, 28], noise(4 * 784))
        let test = idx(shape: [2, 28, 28], noise(2 * 784, seed: 3))
        try write(train, "train-images-idx3-ubyte")
        try write(gzip(idx(shape: [4], [1, 2, 3, 9])), "train-labels-idx1-ubyte.gz")
        try write(gzip(test), "t10k-images-idx3-ubyte.gz")
        try write(idx(shape: [2], [0, 5]), "t10k-labels-idx1-ubyte")

        let dataset = try MNISTDataset(directory: directory)
        XCTAssertEqual(dataset.train.pixels, Array(train[16...]))
        XCTAssertEqual(dataset.train.labels, [1, 2, 3, 9])
        XCTAssertEqual(dataset.test.pixels, Array(test[16...]))
        XCTAssertEqual(dataset.test.labels, [0, 5])

        let limited = try MNISTDataset(directory: directory + "/", limit: 1)
        XCTAssertEqual(limited.train.count, 1)
        XCTAssertEqual(limited.train.labels, [1])
        XCTAssertEqual(limited.test.pixels, Array(test[16..<16 + 784]))
        XCTAssertEqual(limited.train.images(.unitInterval).count, 784)
    }

    // MARK: Errors

    func testMissingFiles() throws {
        let labels = try write(idx(shape: [1], [0]), "labels")
        let missing = directory + "/no-such-file"
        assertDataError(.fileNotFound(path: missing), naming: missing) {
            _ = try MNISTSplit(imagesPath: missing, labelsPath: labels)
        }
        let pattern = directory + "/train-images-idx3-ubyte[.gz]"
        assertDataError(.fileNotFound(path: pattern), naming: pattern) {
            _ = try MNISTDataset(directory: directory)
        }
    }

    func testWrongMagicNumber() throws {
        let labels = try write(idx(shape: [2], [0, 1]), "labels")
        // A labels file where images are expected: right type, wrong number of dimensions.
        assertDataError(.badMagic(path: labels, found: 0x0801, expected: 0x0803), naming: labels) {
            _ = try MNISTSplit(imagesPath: labels, labelsPath: labels)
        }
        let text = try write(Array("hello, world".utf8), "not-idx")
        assertDataError(naming: text, { _ = try MNISTSplit(imagesPath: text, labelsPath: labels) }) {
            if case .badMagic(_, 0x6865_6C6C, 0x0803) = $0 { return true }
            return false
        }
        XCTAssertThrowsError(try MNISTSplit(imagesPath: text, labelsPath: labels)) {
            XCTAssertTrue("\($0)".contains("0x68656C6C") && "\($0)".contains("0x00000803"), "\($0)")
        }
    }

    func testUnsupportedTypeByte() throws {
        let floats = try write(idx(type: 0x0D, shape: [1, 1, 1], [0, 0, 0, 0]), "float-images")
        let labels = try write(idx(shape: [1], [0]), "labels")
        assertDataError(.unsupportedElementType(path: floats, typeByte: 0x0D), naming: floats) {
            _ = try MNISTSplit(imagesPath: floats, labelsPath: labels)
        }
    }

    func testTruncatedAndOverlongFiles() throws {
        let labels = try write(idx(shape: [2], [0, 1]), "labels")
        let short = try write(idx(shape: [2, 2, 2], [1, 2, 3, 4, 5]), "short-images")
        assertDataError(.truncated(path: short, expectedBytes: 24, presentBytes: 21), naming: short) {
            _ = try MNISTSplit(imagesPath: short, labelsPath: labels)
        }
        XCTAssertThrowsError(try MNISTSplit(imagesPath: short, labelsPath: labels)) {
            XCTAssertTrue("\($0)".contains("24") && "\($0)".contains("21"), "\($0)")
        }
        let headerOnly = try write([0, 0, 8, 3, 0, 0], "header-images")
        assertDataError(.truncated(path: headerOnly, expectedBytes: 16, presentBytes: 6), naming: headerOnly) {
            _ = try MNISTSplit(imagesPath: headerOnly, labelsPath: labels)
        }
        let images = try write(idx(shape: [2, 1, 1], [1, 2]), "images")
        let empty = try write([], "empty-labels")
        assertDataError(.truncated(path: empty, expectedBytes: 4, presentBytes: 0), naming: empty) {
            _ = try MNISTSplit(imagesPath: images, labelsPath: empty)
        }
        let long = try write(idx(shape: [2], [0, 1, 2]), "long-labels")
        assertDataError(.trailingBytes(path: long, expectedBytes: 10, presentBytes: 11), naming: long) {
            _ = try MNISTSplit(imagesPath: images, labelsPath: long)
        }
    }

    /// Extents that multiply past Int.max, or past the limit, are refused from the header alone.
    func testHeaderSizesThatOverflowOrPassTheLimitAreRefused() throws {
        let labels = try write(idx(shape: [2], [0, 1]), "labels")
        for (name, shape) in [("overflowing", [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]),
                              ("over-limit", [0x10000, 0x100, 0x81])] {
            let path = try write(gzip(idx(shape: shape, [1, 2, 3])), name + "-images.gz")
            assertDataError(.tooLarge(path: path, shape: shape, limit: IDXArray.maximumDataBytes), naming: path) {
                _ = try MNISTSplit(imagesPath: path, labelsPath: labels)
            }
        }
        XCTAssertThrowsError(try MNISTSplit(imagesPath: directory + "/overflowing-images.gz", labelsPath: labels)) {
            XCTAssertTrue("\($0)".contains("[4294967295, 4294967295, 4294967295]") && "\($0)".contains("\(1 << 31)"), "\($0)")
        }
        // The largest size the limit allows is accepted as far as its header goes: the data is then missing.
        let atLimit = try write(idx(shape: [0x10000, 0x100, 0x80], [1]), "at-limit-images")
        assertDataError(.truncated(path: atLimit, expectedBytes: 16 + (1 << 31), presentBytes: 17), naming: atLimit) {
            _ = try MNISTSplit(imagesPath: atLimit, labelsPath: labels)
        }
    }

    /// A gzip stream that inflates far past its header's size is stopped within a chunk of that
    /// size: here 10 images' worth of header followed by 4 GiB of zeros.
    func testDecompressionBombIsStoppedEarly() throws {
        let labels = try write(idx(shape: [10], [UInt8](repeating: 1, count: 10)), "labels")
        let zeros = try gzip([UInt8](repeating: 0, count: 8 << 20))
        let bomb = try gzip(idx(shape: [10, 28, 28], [UInt8](repeating: 0, count: 7840)))
            + Array([[UInt8]](repeating: zeros, count: 512).joined())
        let path = try write(bomb, "bomb-images.gz")
        let expected = 16 + 7840
        let start = Date()
        assertDataError(naming: path, { _ = try MNISTSplit(imagesPath: path, labelsPath: labels) }) {
            guard case let .dataBeyondHeader(_, expectedBytes, readBytes) = $0 else { return false }
            return expectedBytes == expected && readBytes <= expected + IDXArray.trailingBytesCounted + (1 << 20)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "inflated far more than the header describes")

        // The same for an uncompressed file, and a stream only slightly too long still gets its exact size.
        let tenImages = try write(idx(shape: [10, 1, 1], [UInt8](repeating: 1, count: 10)), "ten-images")
        let raw = try write(idx(shape: [10], [UInt8](repeating: 1, count: 3 << 20)), "long-raw-labels")
        assertDataError(naming: raw, { _ = try MNISTSplit(imagesPath: tenImages, labelsPath: raw) }) {
            guard case let .dataBeyondHeader(_, 18, readBytes) = $0 else { return false }
            return readBytes <= 18 + IDXArray.trailingBytesCounted + (1 << 20)
        }
        let images = try write(idx(shape: [2, 1, 1], [1, 2]), "images")
        let long = try write(gzip(idx(shape: [2], [0, 1, 2])), "long-labels.gz")
        assertDataError(.trailingBytes(path: long, expectedBytes: 10, presentBytes: 11), naming: long) {
            _ = try MNISTSplit(imagesPath: images, labelsPath: long)
        }
    }

    func testCorruptGzip() throws {
        let raw = idx(shape: [50, 28, 28], noise(50 * 784))
        let labels = try write(idx(shape: [50], [UInt8](repeating: 1, count: 50)), "labels")
        var compressed = try gzip(raw)
        let truncated = try write(Array(compressed[..<(compressed.count / 2)]), "truncated.gz")
        assertDataError(naming: truncated, { _ = try MNISTSplit(imagesPath: truncated, labelsPath: labels) }) {
            if case .corruptGzip = $0 { return true }
            return false
        }
        for i in compressed.count / 2..<compressed.count / 2 + 16 { compressed[i] ^= 0x5A }
        let damaged = try write(compressed, "damaged.gz")
        assertDataError(naming: damaged, { _ = try MNISTSplit(imagesPath: damaged, labelsPath: labels) }) {
            if case .corruptGzip = $0 { return true }
            return false
        }
        let trailingGarbage = try write(gzip(raw) + Array("garbage".utf8), "garbage.gz")
        assertDataError(naming: trailingGarbage,
                        { _ = try MNISTSplit(imagesPath: trailingGarbage, labelsPath: labels) }) {
            if case .corruptGzip = $0 { return true }
            return false
        }
    }

    func testCountMismatchNamesBothFiles() throws {
        let images = try write(idx(shape: [3, 1, 1], [1, 2, 3]), "images")
        let labels = try write(idx(shape: [2], [0, 1]), "labels")
        let expected = DataError.countMismatch(imagesPath: images, imageCount: 3, labelsPath: labels, labelCount: 2)
        assertDataError(expected, naming: images) { _ = try MNISTSplit(imagesPath: images, labelsPath: labels) }
        assertDataError(expected, naming: labels) { _ = try MNISTSplit(imagesPath: images, labelsPath: labels) }
    }

    func testLabelOutOfRange() throws {
        let images = try write(idx(shape: [4, 1, 1], [1, 2, 3, 4]), "images")
        let labels = try write(idx(shape: [4], [0, 9, 3, 12]), "labels")
        assertDataError(.labelOutOfRange(path: labels, index: 3, label: 12, classCount: 10), naming: labels) {
            _ = try MNISTSplit(imagesPath: images, labelsPath: labels, classCount: 10)
        }
        XCTAssertNoThrow(try MNISTSplit(imagesPath: images, labelsPath: labels, classCount: 13))
        XCTAssertNoThrow(try MNISTSplit(imagesPath: images, labelsPath: labels))
    }

    // MARK: Batches

    /// Every batch of one epoch, as lists of example indices (the indexed split's labels).
    private func epochIndices(_ iterator: inout BatchIterator, epoch: Int) -> [[Int]] {
        iterator.start(epoch: epoch)
        var batches: [[Int]] = []
        while let batch = iterator.next() {
            batches.append(batch.labels.map(Int.init))
        }
        return batches
    }

    func testBatchOrderIsDeterministicPerSeedAndEpoch() throws {
        let split = try indexedSplit(count: 23)
        var first = try BatchIterator(split: split, batchSize: 5, seed: 42)
        var second = try BatchIterator(split: split, batchSize: 5, seed: 42)
        var otherSeed = try BatchIterator(split: split, batchSize: 5, seed: 43)

        XCTAssertEqual(epochIndices(&first, epoch: 0), epochIndices(&second, epoch: 0))
        XCTAssertEqual(epochIndices(&first, epoch: 3), epochIndices(&second, epoch: 3))
        XCTAssertNotEqual(epochIndices(&first, epoch: 0), epochIndices(&first, epoch: 1))
        XCTAssertNotEqual(epochIndices(&first, epoch: 1), epochIndices(&first, epoch: 2))
        XCTAssertNotEqual(epochIndices(&first, epoch: 0), epochIndices(&otherSeed, epoch: 0))
        // Revisiting an epoch reproduces it, whatever ran in between.
        XCTAssertEqual(epochIndices(&first, epoch: 1), epochIndices(&second, epoch: 1))
    }

    func testEveryExampleOnceAndPartialBatchDropped() throws {
        let split = try indexedSplit(count: 23)
        var iterator = try BatchIterator(split: split, batchSize: 5, seed: 7)
        XCTAssertEqual(iterator.batchesPerEpoch, 4)
        for epoch in 0..<5 {
            let batches = epochIndices(&iterator, epoch: epoch)
            XCTAssertEqual(batches.count, 4)
            XCTAssertTrue(batches.allSatisfy { $0.count == 5 })
            XCTAssertEqual(iterator.order.sorted(), Array(0..<23), "epoch \(epoch) order is not a permutation")
            // The batches are the order's first 20 entries; its last 3 make the dropped partial batch.
            XCTAssertEqual(batches.flatMap { $0 }, Array(iterator.order[..<20]))
            XCTAssertNil(iterator.next())
        }
    }

    func testBatchContentsAndNoShuffle() throws {
        let split = try indexedSplit(count: 12)
        var iterator = try BatchIterator(split: split, batchSize: 4, encoding: .symmetric, shuffle: false)
        XCTAssertEqual(epochIndices(&iterator, epoch: 5), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])

        var shuffled = try BatchIterator(split: split, batchSize: 3, encoding: .binarized, seed: 1)
        let all = split.images(.binarized)
        while let batch = shuffled.next() {
            XCTAssertEqual(batch.size, 3)
            XCTAssertEqual(batch.images.count, 3 * 4)
            for (slot, label) in batch.labels.enumerated() {
                let example = Int(label)
                XCTAssertEqual(Array(batch.images[slot * 4..<slot * 4 + 4]), Array(all[example * 4..<example * 4 + 4]))
            }
        }

        iterator.start(epoch: 0)
        let batch = try XCTUnwrap(iterator.next())
        let one: Float = 2 * 1 / 255 - 1, mid: Float = 2 * 128 / 255 - 1
        XCTAssertEqual(Array(batch.images[..<4]), [-1, -1, mid, 1])
        XCTAssertEqual(Array(batch.images[4..<8]), [one, -1, mid, 1])
    }

    func testBatchStorageIsReused() throws {
        let split = try indexedSplit(count: 40)
        var iterator = try BatchIterator(split: split, batchSize: 8, seed: 3)
        var addresses = Set<UnsafePointer<Float>?>()
        for epoch in 0..<2 {
            iterator.start(epoch: epoch)
            while let batch = iterator.next() {
                addresses.insert(batch.images.withUnsafeBufferPointer { $0.baseAddress })
            }
        }
        // A caller that drops each batch before the next gets the same buffer every time.
        XCTAssertEqual(addresses.count, 1)
    }

    func testInvalidBatchSize() throws {
        let split = try indexedSplit(count: 3)
        for size in [0, -1, 4] {
            XCTAssertThrowsError(try BatchIterator(split: split, batchSize: size)) {
                XCTAssertEqual($0 as? DataError, .invalidBatchSize(batchSize: size, exampleCount: 3))
            }
        }
        XCTAssertNoThrow(try BatchIterator(split: split, batchSize: 3))
    }

    // MARK: Real data

    func testRealFashionMNIST() throws {
        _ = try Prerequisites.fashionMNIST()
        let start = Date()
        let dataset = try MNISTDataset()
        let seconds = Date().timeIntervalSince(start)
        print("Fashion-MNIST (train + test) loaded in \(String(format: "%.3f", seconds)) s")

        for (split, count) in [(dataset.train, 60000), (dataset.test, 10000)] {
            XCTAssertEqual(split.count, count)
            XCTAssertEqual(split.rows, 28)
            XCTAssertEqual(split.cols, 28)
            XCTAssertEqual(split.pixels.count, count * 784)
            XCTAssertEqual(split.labels.count, count)
            // Fashion-MNIST is balanced: every class has a tenth of each split.
            var histogram = [Int](repeating: 0, count: 10)
            for label in split.labels { histogram[Int(label)] += 1 }
            XCTAssertEqual(histogram, [Int](repeating: count / 10, count: 10))
        }
        let limited = try MNISTDataset(limit: 100)
        XCTAssertEqual(limited.train.count, 100)
        XCTAssertEqual(limited.train.pixels, Array(dataset.train.pixels[..<78400]))
    }
}
