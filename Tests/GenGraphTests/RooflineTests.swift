@testable import GenGraph
import XCTest

/// `gengraph info --roofline`'s figures: measured, kept, read back only for this machine.
final class RooflineTests: XCTestCase {
    func testMeasuredFiguresArePlausibleAndTheRoofIsTheirMinimum() {
        let r = Roofline.measure(maxThreads: 2, rounds: 1)
        XCTAssertEqual(r.points.map(\.threads), [1, 2])
        for p in r.points {
            // Anything from a slow portable build to a many-core AVX-512 part, but never zero or absurd.
            XCTAssertGreaterThan(p.peakGFLOPs, 0.5)
            XCTAssertLessThan(p.peakGFLOPs, 100_000)
            XCTAssertGreaterThan(p.bandwidthGBs, 0.1)
            XCTAssertLessThan(p.bandwidthGBs, 10_000)
        }
        let one = r.point(threads: 1)!
        XCTAssertEqual(r.roof(flops: 1e9, bytes: 0, threads: 1), one.peakGFLOPs)
        XCTAssertEqual(r.roof(flops: 1, bytes: 1e6, threads: 1)!, 1e-6 * one.bandwidthGBs, accuracy: 1e-12)
        XCTAssertEqual(r.roof(flops: 1e12, bytes: 1, threads: 1), one.peakGFLOPs, "compute-bound: the peak")
        XCTAssertNil(r.roof(flops: 1, bytes: 1, threads: 3), "no figures for 3 threads")
    }

    func testKeptFiguresRoundTripAndOnlyThisMachinesAreRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roofline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("gengraph/roofline.json")
        XCTAssertNil(Roofline.cached(at: url), "nothing kept yet")
        let r = Roofline(machine: Roofline.machineKey, points: [.init(threads: 1, peakGFLOPs: 100, bandwidthGBs: 20)])
        try r.save(to: url)
        XCTAssertEqual(Roofline.cached(at: url), r)
        try Roofline(machine: "another cpu / avx512", points: r.points).save(to: url)
        XCTAssertNil(Roofline.cached(at: url), "another machine's figures")
        try Data("{\"machine\": 3".utf8).write(to: url)
        XCTAssertNil(Roofline.cached(at: url), "a truncated file")
        try Roofline(machine: Roofline.machineKey, points: [.init(threads: 1, peakGFLOPs: -1, bandwidthGBs: 20)]).save(to: url)
        XCTAssertNil(Roofline.cached(at: url), "figures no measurement gives")
    }
}
