import Foundation
import XCTest

extension CLITests {
    /// `bench` takes the flags every running command shares (--threads, --seed) and hands them to its workers.
    func testBenchTakesTheSharedThreadsAndSeed() throws {
        try assertFails(["bench", "ae", "--threads", "0"], saying: "--threads must be at least 1, got 0")
        let data = try tinyDataset(count: 16)
        func bench(seed: Int) throws -> [String: Any] {
            let (status, output) = try gengraph(["bench", "ae", "--modes", "fused", "--steps", "1", "--warmup", "0", "--batch", "8",
                                                 "--threads", "1", "--seed", "\(seed)", "--data", data, "--json"])
            XCTAssertEqual(status, 0, output)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        }
        let (first, again, other) = (try bench(seed: 3), try bench(seed: 3), try bench(seed: 4))
        XCTAssertEqual(first["threads"] as? Int, 1)
        let loss = try XCTUnwrap(first["loss_first"] as? Double)
        XCTAssertEqual(again["loss_first"] as? Double, loss, "the same seed gives the same weights and batches")
        XCTAssertNotEqual(other["loss_first"] as? Double, loss, "another seed gives other weights and batches")
    }

    /// A directory holding an MNIST-format dataset of `count` patterned images in each split.
    func tinyDataset(count: Int) throws -> String {
        let directory = temporaryPath("data")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        /// IDX: two zero bytes, the u8 type code, the rank, then each dimension as a big-endian u32.
        func header(_ dimensions: [Int]) -> [UInt8] {
            [0, 0, 8, UInt8(dimensions.count)] + dimensions.flatMap { d in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: d >> $0) } }
        }
        for split in ["train", "t10k"] {
            let pixels = (0..<count * 784).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
            try Data(header([count, 28, 28]) + pixels).write(to: URL(fileURLWithPath: "\(directory)/\(split)-images-idx3-ubyte"))
            try Data(header([count]) + (0..<count).map { UInt8($0 % 10) })
                .write(to: URL(fileURLWithPath: "\(directory)/\(split)-labels-idx1-ubyte"))
        }
        return directory
    }
}
