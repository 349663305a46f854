import Foundation
import GenGraph
import XCTest

extension CLITests {
    /// realnvp's flags: `sample --temperature` and `eval --dequant K`, and what they refuse.
    func testTemperatureAndDequantisationFlags() throws {
        let run = try oneStepRun("realnvp", batch: 8, trainLimit: 64, testLimit: 8)

        let grid = temporaryPath("cold.png")
        let (status, output) = try gengraph(["sample", run, "--n", "4", "--temperature", "0.7", "--out", grid])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: grid), output)
        try assertFails(["sample", run, "--temperature=-1"], saying: "--temperature must be a finite number >= 0, got -1.0")
        try assertFails(["sample", run, "--temperature", "nan"], saying: "--temperature must be a finite number >= 0")

        let (evalStatus, evalOutput) = try gengraph(["eval", run, "--dequant", "2", "--limit", "10", "--json"])
        XCTAssertEqual(evalStatus, 0, evalOutput)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evalOutput.utf8)) as? [String: Any], evalOutput)
        XCTAssertEqual(object["dequant"] as? Int, 2)
        XCTAssertTrue((object["test_bpd"] as? Double).map { $0.isFinite && $0 > 0 } ?? false, evalOutput)
        try assertFails(["eval", run, "--dequant", "0"], saying: "--dequant must be at least 1, got 0")
        try assertFails(["eval", run, "--dequant", "10001"], saying: "--dequant must be at most 10000")
    }
}
