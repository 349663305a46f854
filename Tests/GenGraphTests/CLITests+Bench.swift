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

    /// `bench --batch B1,B2 --threads T1,T2`: every mode at every batch and thread count, each worker
    /// with its own configuration; `--plot` draws them; bad lists fail before any worker starts.
    /// `--rounds` alternates the modes round by round and reports the median of the rounds' medians.
    func testBenchRoundsAlternateTheModes() throws {
        let data = try tinyDataset(count: 16)
        let (status, output) = try gengraph(["bench", "ae", "--steps", "2", "--warmup", "0", "--batch", "8", "--threads", "1",
                                             "--rounds", "3", "--data", data, "--json"])
        XCTAssertEqual(status, 0, output)
        let rows = try output.split(separator: "\n").filter { $0.hasPrefix("{\"") }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let modes = rows.filter { $0["mode"] != nil }
        XCTAssertEqual(modes.compactMap { $0["mode"] as? String }, ["eager", "fused"], output)
        for row in modes {
            let medians = try XCTUnwrap(row["round_medians_ms"] as? [Double], "\(row)")
            XCTAssertEqual(medians.count, 3)
            XCTAssertEqual(row["step_ms_median"] as? Double, medians.sorted()[1])
        }
        XCTAssertEqual(rows.last?["loss_abs_diff"] as? Double, 0, "the modes agree after every round: \(output)")
    }

    func testBenchMeasuresCostCurvesOverBatchesAndThreads() throws {
        try assertFails(["bench", "ae", "--batch", "8,x"], saying: "--batch expects comma-separated integers, got 'x'")
        try assertFails(["bench", "ae", "--batch", "8,8"], saying: "--batch lists 8 twice")
        try assertFails(["bench", "ae", "--batch", "8,99999999999999999999"], saying: "does not fit in a 64-bit integer")
        try assertFails(["bench", "ae", "--threads", "1,0"], saying: "--threads must be at least 1, got 0")
        try assertFails(["bench", "ae", "--batch", "8,16", "--plot", temporaryPath("missing") + "/curves.svg"],
                        saying: "is not a writable directory")
        let data = try tinyDataset(count: 16)
        let plot = temporaryPath("curves.svg")
        let (status, output) = try gengraph(["bench", "ae", "--steps", "1", "--warmup", "0", "--batch", "4,8", "--threads", "1,2",
                                             "--data", data, "--json", "--plot", plot])
        XCTAssertEqual(status, 0, output)
        let rows = try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        let measured = Set(rows.map { "\($0["mode"]!) \($0["threads"]!) \($0["batch"]!)" })
        XCTAssertEqual(measured, Set(["eager", "fused"].flatMap { m in [1, 2].flatMap { t in [4, 8].map { "\(m) \(t) \($0)" } } }))
        XCTAssertTrue(FileManager.default.fileExists(atPath: plot))
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
