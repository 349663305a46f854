import Foundation
import XCTest

extension CLITests {
    /// `--fusion-off` names the valid kinds when given another; `dump --diff` prints kernels and totals.
    func testFusionOffAndDumpDiff() throws {
        let valid = "valid kinds: elementwise, reductions, siblings, epilogues, prologues, recompute, phases, updates, memory"
        try assertFails(["dump", "vae", "--fusion-off", "epilogue"], saying: valid)
        try assertFails(["train", "vae", "--steps", "1", "--fusion-off", "memory,nope"], saying: "unknown fusion kind 'nope'")
        try assertFails(["dump", "vae", "--diff-fusion-off", "nope"], saying: valid)
        let (status, output) = try gengraph(["dump", "vae", "--batch", "4", "--diff-fusion-off", "epilogues"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("B = vae --fusion-off epilogues"), output)
        XCTAssertTrue(output.contains("\n  - gg_gemm_ep_f32 contraction"), output)
        XCTAssertTrue(output.contains("\narena MB "), output)
    }

    /// `bench --ablate --json`: a row per configuration, full fusion's ratio 1, every row's loss alike.
    func testBenchAblateRowsInJSON() throws {
        let data = try tinyDataset(count: 16)
        let (status, output) = try gengraph(["bench", "ae", "--ablate", "--rounds", "1", "--steps", "1", "--warmup", "0", "--batch", "8",
                                             "--threads", "1", "--data", data, "--json"])
        XCTAssertEqual(status, 0, output)
        let rows = try output.split(separator: "\n").map { line in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
        XCTAssertEqual(rows.map { $0["config"] as? String },
                       ["eager", "fused", "-elementwise", "-reductions", "-siblings", "-epilogues", "-prologues", "-recompute", "-phases", "-updates", "-memory"])
        XCTAssertEqual(rows[1]["ratio_to_fused"] as? Double, 1)
        let loss = try XCTUnwrap(rows[1]["loss_last"] as? Double)
        for row in rows { XCTAssertEqual(try XCTUnwrap(row["loss_last"] as? Double), loss, accuracy: 1e-3 * max(1, abs(loss)), "\(row)") }
    }
}

extension CLITests {
    /// `--memory-limit` takes positive megabytes; `dump` says whether the plan met it and what the copies cost.
    func testMemoryLimitFlag() throws {
        for bad in ["0", "-3", "abc", "inf", "nan", "1e300"] {
            try assertFails(["dump", "pixelcnn", "--memory-limit=\(bad)"], saying: "--memory-limit: expected megabytes in (0, 1000000], got '\(bad)'")
        }
        try assertFails(["train", "pixelcnn", "--steps", "1", "--memory-limit", "x"], saying: "got 'x'")
        let (status, output) = try gengraph(["dump", "pixelcnn", "--batch", "8", "--stage", "plan", "--memory-limit", "0.5"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("\nmemory limit        0.500 MB, not met: "), output)
        XCTAssertTrue(output.contains("nodes copied to recompute values"), output)
        let (fusedStatus, fused) = try gengraph(["dump", "pixelcnn", "--batch", "8", "--stage", "fused", "--memory-limit", "0.5"])
        XCTAssertEqual(fusedStatus, 0, fused)
        XCTAssertTrue(fused.contains("  recomputes %"), fused)
    }
}
