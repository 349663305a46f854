import Foundation
import GenGraph
import XCTest

extension CLITests {
    /// cyclegan's `translate` (a pairs grid, .npy in input order, --input) and what it refuses.
    func testTranslateWritesGridsAndArraysAndRefusesBadInput() throws {
        let run = try oneStepRun("cyclegan", batch: 2, testLimit: 200)

        let grid = temporaryPath("pairs.png")
        let (status, output) = try gengraph(["translate", run, "--from", "a", "--n", "3", "--out", grid])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("wrote 3 images of cyclegan translated a -> b by G_AB"), output)
        // Three pairs side by side: six 56-pixel tiles (scale 2) and their borders.
        let png = try XCTUnwrap(FileManager.default.contents(atPath: grid))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 6 * 56 + 7 * 2)

        let translated = temporaryPath("boots.npy")
        XCTAssertEqual(try gengraph(["translate", run, "--from", "b", "--n", "4", "--out", translated]).0, 0)
        let array = try NPYArray(contentsOf: translated)
        XCTAssertEqual(array.shape, [4, 1, 28, 28])
        XCTAssertTrue(array.values.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
        // --input: the same images given back as a file translate the same way.
        let again = temporaryPath("again.npy")
        XCTAssertEqual(try gengraph(["translate", run, "--from", "b", "--input", translated, "--out", again]).0, 0)
        let (twice, _) = try gengraph(["translate", run, "--from", "a", "--input", translated, "--out", temporaryPath("twice.npy")])
        XCTAssertEqual(twice, 0)
        XCTAssertEqual(try NPYArray(contentsOf: again).shape, [4, 1, 28, 28])

        try assertFails(["translate", run, "--from", "c", "--out", temporaryPath("x.npy")], saying: "translates from a or b, not from 'c'")
        try assertFails(["translate", run, "--from", "b", "--input", translated, "--n", "5", "--out", temporaryPath("x.npy")],
                        saying: "--n 5: \(translated) holds only 4 images of domain 'b' to translate")
        try assertFails(["translate", run, "--from", "a", "--out", temporaryPath("x.jpg")], saying: "--out must end in .png or .npy")
        let wide = temporaryPath("wide.npy")
        try NPYArray(shape: [1, 1, 28, 28], values: [Float](repeating: 3, count: 784)).write(to: wide)
        try assertFails(["translate", run, "--from", "a", "--input", wide, "--out", temporaryPath("x.npy")], saying: "outside the model's pixel range")
        let flat = temporaryPath("flat.npy")
        try NPYArray(shape: [2, 784], values: [Float](repeating: 0, count: 1568)).write(to: flat)
        try assertFails(["translate", run, "--from", "a", "--input", flat, "--out", temporaryPath("x.npy")], saying: "expected (N >= 1, 1, 28, 28) images")
        try assertFails(["translate", temporaryPath("none"), "--from", "a", "--out", temporaryPath("x.npy")], saying: "no run directory or checkpoint")
        try assertFails(["eval", run, "--classifier", run, "--limit", "200"], saying: "has no 'features' function")
    }
}
