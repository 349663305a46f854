import CZlib
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import GenGraph
import XCTest

/// The run's output files: PNG grids (decoded here independently of the encoder), .npy arrays
/// (cross-checked with numpy when it is installed), SVG loss plots and metrics CSV files.
final class OutputTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { "\(directory)/\(name)" }

    // MARK: PNG

    func testGridHasExactPixelsBordersAndClamping() throws {
        // Two 2x2 images side by side with a 2-pixel mid-grey border: 10 x 6 pixels.
        let values: [Float] = [0, 0.5, 1, 2, -1, 0.25, -.infinity, .infinity]
        let png = try decodePNG(ImageGrid(range: 0...1).image(values, shape: [2, 1, 2, 2]).encoded())
        XCTAssertEqual([png.width, png.height, png.bitDepth, png.colorType, png.interlace], [10, 6, 8, 0, 0])
        let b: UInt8 = 128
        let border = [UInt8](repeating: b, count: 10)
        XCTAssertEqual(png.pixels, border + border
            + [b, b, 0, 128, b, b, 0, 64, b, b]
            + [b, b, 255, 255, b, b, 0, 255, b, b]
            + border + border)
    }

    func testSymmetricRangeScaleAndColumns() throws {
        // One column, two rows, each pixel a 2x2 block, border 1, black border.
        let grid = ImageGrid(range: -1...1, columns: 1, border: 1, borderLevel: 0, scale: 2)
        let png = try decodePNG(grid.image([-1, 0, 1, 0.5], shape: [2, 1, 1, 2]).encoded())
        XCTAssertEqual([png.width, png.height], [6, 7])
        let row0: [UInt8] = [0, 0, 0, 128, 128, 0]
        let row1: [UInt8] = [0, 255, 255, 191, 191, 0]
        let black = [UInt8](repeating: 0, count: 6)
        XCTAssertEqual(png.pixels, black + row0 + row0 + black + row1 + row1 + black)
    }

    func testSixtyFourMNISTImagesMakeAnEightByEightGrid() throws {
        let values = (0..<(64 * 28 * 28)).map { Float($0 % 97) / 96 }
        let file = path("samples.png")
        try ImageGrid().write(values, shape: [64, 1, 28, 28], to: file)
        let png = try decodePNG(readBytes(file))
        XCTAssertEqual([png.width, png.height, png.colorType], [8 * 28 + 9 * 2, 8 * 28 + 9 * 2, 0])
        // The last image's last pixel sits just inside the bottom-right border.
        XCTAssertEqual(png.pixels[(png.height - 3) * png.width + png.width - 3], UInt8((Float(50175 % 97) / 96 * 255).rounded()))
        // The atomic write leaves no temporary file behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["samples.png"])
    }

    func testNaNTurnsTheGridIntoRGBWithMagentaPixels() throws {
        let png = try decodePNG(ImageGrid(border: 0).image([0, .nan, 1, 0.5], shape: [1, 1, 2, 2]).encoded())
        XCTAssertEqual(png.colorType, 2)
        XCTAssertEqual(png.pixels, [0, 0, 0, 255, 0, 255, 255, 255, 255, 128, 128, 128])
    }

    func testRGBImagesKeepTheirChannels() throws {
        // Channel planes R, G, B of one 1x2 image.
        let png = try decodePNG(ImageGrid(border: 0).image([1, 0, 0, 1, 0.5, 0], shape: [1, 3, 1, 2]).encoded())
        XCTAssertEqual(png.colorType, 2)
        XCTAssertEqual(png.pixels, [255, 0, 128, 0, 255, 0])
    }

    func testEveryRowFilterDecodesToTheOriginalPixels() throws {
        // Smooth gradients favour Sub/Up/Average/Paeth, noise favours None; all must round-trip.
        var generator = SystemRandomNumberGenerator()
        for color in [PNGImage.Color.grey, .rgb] {
            let width = 37, height = 23, channels = color.channels
            var pixels = [UInt8](repeating: 0, count: width * height * channels)
            for y in 0..<height {
                for x in 0..<(width * channels) {
                    pixels[y * width * channels + x] = y % 3 == 0 ? UInt8.random(in: 0...255, using: &generator)
                        : UInt8(truncatingIfNeeded: x * (y % 5) + y * 7)
                }
            }
            let png = try decodePNG(PNGImage(width: width, height: height, color: color, pixels: pixels).encoded())
            XCTAssertEqual(png.pixels, pixels)
            XCTAssertGreaterThan(Set(png.filterTypes).count, 1, "expected a per-row filter choice")
        }
    }

    func testImageErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try ImageGrid().image([0, 0], shape: [1, 2, 1, 1])) { error in
            XCTAssertTrue("\(error)".contains("C = 1 or 3"))
        }
        XCTAssertThrowsError(try ImageGrid().write([0], shape: [1, 1, 2, 2], to: path("x.png"))) { error in
            XCTAssertEqual(error as? OutputError, .invalidArgument(path: path("x.png"), reason: "image grid of shape [1, 1, 2, 2] needs 4 values, got 1"))
        }
        XCTAssertThrowsError(try ImageGrid(range: 1...1).image([0], shape: [1, 1, 1, 1]))
        XCTAssertThrowsError(try PNGImage(width: 2, height: 2, pixels: [0]))
        XCTAssertThrowsError(try ImageGrid().write([0], shape: [1, 1, 1, 1], to: "\(directory)/missing/x.png")) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(directory)/missing/x.png: cannot write file"), "\(error)")
        }
    }

    // MARK: NPY

    func testNPYRoundTripKeepsShapeAndExactBits() throws {
        let values: [Float] = (0..<12).map { Float($0) * 0.1 - 0.5 } + [.nan, -0.0, .infinity, -.greatestFiniteMagnitude]
        let array = try NPYArray(shape: [2, 1, 2, 4], values: values)
        let file = path("samples.npy")
        try array.write(to: file)
        let bytes = try readBytes(file)
        // The header (with magic, version and length) is padded to 64 bytes and ends in a newline.
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(bytes[10 + headerLength - 1], 0x0A)
        XCTAssertEqual(bytes.count, 10 + headerLength + 4 * 16)
        let back = try NPYArray(contentsOf: file)
        XCTAssertEqual(back.shape, [2, 1, 2, 4])
        XCTAssertEqual(back.values.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testNPYHeaderUsesPythonTupleSyntax() throws {
        func header(_ shape: [Int]) throws -> String {
            let bytes = try NPYArray(shape: shape, values: [Float](repeating: 1, count: shape.reduce(1, *))).encoded()
            return String(decoding: bytes[10..<(10 + Int(bytes[8]) | Int(bytes[9]) << 8)], as: UTF8.self)
        }
        XCTAssertTrue(try header([5]).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"))
        XCTAssertTrue(try header([]).contains("'shape': ()"))
        XCTAssertTrue(try header([64, 1, 28, 28]).contains("'shape': (64, 1, 28, 28)"))
        XCTAssertEqual(try NPYArray(decoding: NPYArray(shape: [], values: [3]).encoded(), path: "s").values, [3])
        XCTAssertEqual(try NPYArray(decoding: NPYArray(shape: [0, 3], values: []).encoded(), path: "e").shape, [0, 3])
    }

    func testNPYReadRejectsOtherFilesWithClearErrors() throws {
        let good = try NPYArray(shape: [2], values: [1, 2]).encoded()
        func reason(_ bytes: [UInt8]) -> String {
            do {
                _ = try NPYArray(decoding: bytes, path: "bad.npy")
                return "no error"
            } catch { return "\(error)" }
        }
        func withHeader(_ dict: String, dataBytes: Int = 8) -> [UInt8] {
            let header = dict + "\n"
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
                + [UInt8](repeating: 0, count: dataBytes)
        }
        XCTAssertTrue(reason(Array("PK\u{3}\u{4}junkjunk".utf8)).hasPrefix("bad.npy: not a readable .npy file: missing"))
        var version = good
        version[6] = 9
        XCTAssertTrue(reason(version).contains("unsupported format version 9.0"))
        XCTAssertTrue(reason(withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }")).contains("dtype '<f8'"))
        XCTAssertTrue(reason(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }")).contains("fortran_order True"))
        XCTAssertTrue(reason(withHeader("{'descr': '<f4', 'shape': (2,)}")).contains("lacks fortran_order"))
        XCTAssertEqual(reason(withHeader("{\"shape\": (2,), 'fortran_order':False,'descr':'<f4'}")), "no error")
        XCTAssertEqual(reason(Array(good.dropLast())),
                       "bad.npy: not a readable .npy file: shape [2] needs \(good.count) bytes in all, file has \(good.count - 1)")
        XCTAssertTrue(reason(good + [0]).hasSuffix("file has \(good.count + 1)"))
        XCTAssertThrowsError(try NPYArray(contentsOf: path("absent.npy"))) { error in
            XCTAssertEqual(error as? OutputError, .cannotRead(path: path("absent.npy"), reason: "No such file or directory"))
        }
        XCTAssertThrowsError(try NPYArray(shape: [2, 2], values: [1]))
    }

    /// Shapes whose sizes overflow, or do not fit an Int, are errors naming the file and the shape
    /// before anything is multiplied unchecked or allocated; so are shapes a caller passes in.
    func testNPYShapesThatOverflowAreRefused() throws {
        func reason(shape tuple: String, dataBytes: Int = 0) -> String {
            let header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }\n"
            let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
                + [UInt8](repeating: 0, count: dataBytes)
            do {
                _ = try NPYArray(decoding: bytes, path: "hostile.npy")
                return "no error"
            } catch { return "\(error)" }
        }
        let product = reason(shape: "(1099511627776, 1099511627776, 0)")
        XCTAssertTrue(product.hasPrefix("hostile.npy: ") && product.contains("[1099511627776, 1099511627776, 0]")
                      && product.contains("overflow"), product)
        // A count that fits an Int but whose byte size does not.
        let bytes = reason(shape: "(2305843009213693950,)")
        XCTAssertTrue(bytes.hasPrefix("hostile.npy: ") && bytes.contains("[2305843009213693950]") && bytes.contains("overflow"), bytes)
        let huge = reason(shape: "(99999999999999999999, 2)")
        XCTAssertTrue(huge.hasPrefix("hostile.npy: ") && huge.contains("99999999999999999999") && huge.contains("too large"), huge)
        let negative = reason(shape: "(-1, 2)")
        XCTAssertTrue(negative.hasPrefix("hostile.npy: ") && negative.contains("non-negative"), negative)
        // A zero extent does not excuse the others: every order of multiplying them must stay in range.
        XCTAssertTrue(reason(shape: "(0, 1099511627776, 1099511627776)").contains("overflow"))
        XCTAssertEqual(reason(shape: "(0, 1099511627776)"), "no error")
        XCTAssertThrowsError(try NPYArray(shape: [1 << 40, 1 << 40, 0], values: [])) {
            XCTAssertTrue("\($0)".contains("overflow"), "\($0)")
        }
    }

    func testNumpyReadsOurFileAndWeReadNumpys() throws {
        let python = try Prerequisites.python(importing: "numpy")
        let values = (0..<(3 * 28 * 28)).map { Float($0) / 7 - 100 }
        let ours = path("ours.npy"), theirs = path("theirs.npy")
        try NPYArray(shape: [3, 1, 28, 28], values: values).write(to: ours)
        let script = """
            import sys, numpy as np
            a = np.load(sys.argv[1])
            expected = (np.arange(3 * 28 * 28, dtype=np.float32) / np.float32(7) - np.float32(100)).reshape(3, 1, 28, 28)
            assert a.dtype == np.float32 and a.shape == (3, 1, 28, 28), (a.dtype, a.shape)
            assert np.array_equal(a, expected)
            np.save(sys.argv[2], np.arange(6, dtype='<f4').reshape(2, 3) * 0.5)
            print("ok")
            """
        let result = try Prerequisites.run(python + ["-c", script, ours, theirs])
        XCTAssertEqual(result.status, 0, result.output)
        let back = try NPYArray(contentsOf: theirs)
        XCTAssertEqual(back.shape, [2, 3])
        XCTAssertEqual(back.values, [0, 0.5, 1, 1.5, 2, 2.5])
    }

    // MARK: SVG

    func testLossPlotIsWellFormedAndNamesEverySeries() throws {
        let d = LossPlot.Series(name: "loss <D> & 'G'", points: (0..<50).map { i -> (x: Double, y: Double) in
            (Double(i * 10), 1 / Double(i + 1))
        })
        let g = LossPlot.Series(name: "generator", points: [(0, 2), (10, .nan), (20, 1.5), (30, .infinity), (40, 1)])
        let single = LossPlot.Series(name: "eval", points: [(100, 0.7)])
        let file = path("loss.svg")
        try LossPlot(series: [d, g, single], title: "MNIST GAN").write(to: file)
        let svg = String(decoding: try readBytes(file), as: UTF8.self)
        let text = try parseSVG(svg)
        XCTAssertTrue(text.contains("loss <D> & 'G'"))
        XCTAssertTrue(text.contains("generator (2 points not drawn)"))
        XCTAssertTrue(text.contains("eval"))
        XCTAssertTrue(text.contains("MNIST GAN"))
        XCTAssertTrue(text.contains("500"), "x tick labels reach the last step")
        // The generator line breaks at each skipped point, so its isolated points become dots.
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4)
        XCTAssertFalse(svg.lowercased().contains("nan"))
        XCTAssertFalse(svg.lowercased().contains("inf"))
    }

    func testCostCurvesDrawOneCurvePerModeAndThreadsWithTicksAtTheBatches() throws {
        var points: [CostCurves.Point] = []
        for threads in [1, 2] {
            for batch in [32, 64, 256] {
                for mode in ["eager", "fused"] {
                    let ms = Double(batch) / Double(threads) / (mode == "fused" ? 2 : 1)
                    points.append(CostCurves.Point(mode: mode, threads: threads, batch: batch, samplesPerStep: 2 * batch, stepMs: ms))
                }
            }
        }
        let curves = CostCurves(model: "d<c>gan", points: points)
        XCTAssertEqual(points[0].samplesPerSecond, 2 * 32 / 0.032, accuracy: 1e-9, "samples/s counts every batch of the step")
        let svg = curves.svg()
        let text = try parseSVG(svg)
        for name in ["eager, 1 thread", "fused, 1 thread", "eager, 2 threads", "fused, 2 threads", "d<c>gan: throughput"] {
            XCTAssertTrue(text.contains(name), "\(name) missing from \(text)")
        }
        // Two plots, each with its four curves and a tick at each batch measured, and none between.
        XCTAssertEqual(svg.components(separatedBy: "<path").count - 1, 8)
        let labels: [String] = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(labels.filter { ["32", "64", "256"].contains($0) }.count, 6, text)
        XCTAssertFalse(labels.contains("128"), "no tick between the batches measured")
    }

    func testLossPlotHandlesLogScaleSinglePointsAndNoData() throws {
        let log = LossPlot(series: [LossPlot.Series(name: "kl", points: [(1, 1e-4), (2, 0), (3, 3e2), (4, -1)])], logScale: true).svg()
        let logText = try parseSVG(log)
        XCTAssertTrue(logText.contains("0.0001") && logText.contains("1000"), logText)
        XCTAssertTrue(logText.contains("kl (2 points not drawn)"))
        XCTAssertTrue(logText.contains("loss (log scale)"))

        let one = try parseSVG(LossPlot(series: [LossPlot.Series(name: "only", points: [(5, 0.25)])]).svg())
        XCTAssertTrue(one.contains("only"))
        XCTAssertFalse(one.contains("no finite data"))

        let empty = try parseSVG(LossPlot(series: [LossPlot.Series(name: "diverged", points: [(0, .nan)])]).svg())
        XCTAssertTrue(empty.contains("no finite data"))
        XCTAssertTrue(try parseSVG(LossPlot(series: []).svg()).contains("no finite data"))

        // Values whose span or ticks would overflow a Double, or a span too small for a tick step (an edited
        // metrics.csv can hold either), are skipped or widened instead of trapping on Int(infinity).
        let wide = try parseSVG(LossPlot(series: [LossPlot.Series(name: "wide", points: [(0, -1e308), (1, 1e308), (2, 1e299)])]).svg())
        XCTAssertTrue(wide.contains("wide (2 points not drawn)") && wide.contains("e299"), wide)
        let extremes = [(1e308, 1.0), (-1.7e308, 2), (3, 5e-324), (4, 0), (5, -5e-324)]
        let narrow = try parseSVG(LossPlot(series: [LossPlot.Series(name: "narrow", points: extremes)]).svg())
        XCTAssertTrue(narrow.contains("narrow (2 points not drawn)"), narrow)
    }

    // MARK: CSV

    func testMetricsCSVRoundTripWithQuoting() throws {
        let file = path("metrics.csv")
        let writer = try MetricsCSVWriter(path: file, columns: ["step", "loss", "note"])
        try writer.append(["step": 100, "loss": 0.125])
        try writer.append(["step": "200", "loss": "nan", "note": "lr=1e-3, \"warm\"\nrestart"])
        try writer.append(["step": "300", "note": " padded "])
        let text = String(decoding: try readBytes(file), as: UTF8.self)
        XCTAssertEqual(text, "step,loss,note\n100,0.125,\n200,nan,\"lr=1e-3, \"\"warm\"\"\nrestart\"\n300,,\" padded \"\n")
        let table = try MetricsCSV.read(file)
        XCTAssertEqual(table, MetricsTable(columns: ["step", "loss", "note"], rows: [
            ["100", "0.125", ""], ["200", "nan", "lr=1e-3, \"warm\"\nrestart"], ["300", "", " padded "],
        ]))
        XCTAssertEqual(table.numbers("step"), [100, 200, 300])
        XCTAssertEqual(table.numbers("loss")?.map(\.isNaN), [false, true, true])
        XCTAssertNil(table.numbers("missing"))
        let series = try XCTUnwrap(table.series(x: "step", y: "loss"))
        XCTAssertEqual(series.name, "loss")
        XCTAssertTrue(try parseSVG(LossPlot(series: [series]).svg()).contains("loss (2 points not drawn)"))
    }

    func testMetricsCSVResumeAppendsWithoutSecondHeaderAndCutsPartialRows() throws {
        let file = path("metrics.csv")
        try Data("step,loss\n1,0.5\n2,0.4".utf8).write(to: URL(fileURLWithPath: file))
        try MetricsCSVWriter(path: file, columns: ["step", "loss"]).append(["step": 2, "loss": 0.375])
        XCTAssertEqual(String(decoding: try readBytes(file), as: UTF8.self), "step,loss\n1,0.5\n2,0.375\n")
        XCTAssertThrowsError(try MetricsCSVWriter(path: file, columns: ["step", "accuracy"])) { error in
            XCTAssertEqual(error as? OutputError, .headerMismatch(path: file, expected: ["step", "accuracy"], found: ["step", "loss"]))
        }
        try MetricsCSVWriter(path: file, columns: ["epoch"], replacing: true).append(["epoch": 1])
        XCTAssertEqual(try MetricsCSV.read(file), MetricsTable(columns: ["epoch"], rows: [["1"]]))
        XCTAssertThrowsError(try MetricsCSVWriter(path: file, columns: ["epoch"]).append(["step": 1])) { error in
            XCTAssertTrue("\(error)".contains("no CSV column named 'step'"))
        }
    }

    func testMetricsCSVReadErrorsGiveTheLine() throws {
        let file = path("bad.csv")
        try Data("a,b\r\n1,2\r\n3\r\n".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try MetricsCSV.read(file)) { error in
            XCTAssertEqual(error as? OutputError, .malformedCSV(path: file, line: 3, reason: "row has 1 fields, header has 2"))
        }
        try Data("a,b\n1,\"2".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try MetricsCSV.read(file)) { error in
            XCTAssertEqual(error as? OutputError, .malformedCSV(path: file, line: 2, reason: "unterminated quoted field"))
        }
        // A final row without its newline is still a complete row.
        try Data("a,b\n1,2".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try MetricsCSV.read(file).rows, [["1", "2"]])
    }

    func testNumberFormatting() {
        XCTAssertEqual(MetricsCSV.format(100), "100")
        XCTAssertEqual(MetricsCSV.format(-0.1), "-0.1")
        XCTAssertEqual(MetricsCSV.format(1e-5), "1e-05")
        XCTAssertEqual(MetricsCSV.format(1e300), "1e+300")
        XCTAssertEqual(MetricsCSV.format(.infinity), "inf")
        XCTAssertEqual(Double(MetricsCSV.format(0.1 + 0.2)), 0.1 + 0.2)
    }
}

// MARK: Helpers

private func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A PNG decoded by the test itself: only what these encoders produce (8-bit grey or RGB, no interlace).
private struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
    var filterTypes: [UInt8] = []
    var pixels: [UInt8] = []
}

private func decodePNG(_ bytes: [UInt8]) throws -> DecodedPNG {
    XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func be32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
    var png = DecodedPNG()
    var types: [String] = []
    var idat: [UInt8] = []
    var at = 8
    while at < bytes.count {
        let length = be32(at)
        let typeAndData = Array(bytes[(at + 4)..<(at + 8 + length)])
        let type = String(decoding: typeAndData.prefix(4), as: UTF8.self)
        let data = Array(typeAndData.dropFirst(4))
        let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        XCTAssertEqual(be32(at + 8 + length), Int(crc), "CRC of \(type)")
        types.append(type)
        if type == "IHDR" {
            XCTAssertEqual(length, 13)
            png.width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
            png.height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
            png.bitDepth = Int(data[8])
            png.colorType = Int(data[9])
            XCTAssertEqual(data[10], 0, "compression method")
            XCTAssertEqual(data[11], 0, "filter method")
            png.interlace = Int(data[12])
        } else if type == "IDAT" {
            idat += data
        }
        at += 12 + length
    }
    XCTAssertEqual(at, bytes.count)
    XCTAssertEqual(types.first, "IHDR")
    XCTAssertEqual(types.last, "IEND")
    let bpp = png.colorType == 2 ? 3 : 1
    let rowBytes = png.width * bpp
    var raw = [UInt8](repeating: 0, count: png.height * (rowBytes + 1))
    var rawSize = uLong(raw.count)
    XCTAssertEqual(uncompress(&raw, &rawSize, idat, uLong(idat.count)), Z_OK)
    XCTAssertEqual(Int(rawSize), raw.count)
    var previous = [UInt8](repeating: 0, count: rowBytes)
    for y in 0..<png.height {
        let filter = raw[y * (rowBytes + 1)]
        png.filterTypes.append(filter)
        var row = Array(raw[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))])
        for i in 0..<rowBytes {
            let a = i >= bpp ? Int(row[i - bpp]) : 0, b = Int(previous[i]), c = i >= bpp ? Int(previous[i - bpp]) : 0
            let predictor: Int
            switch filter {
            case 0: predictor = 0
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = (a + b) / 2
            case 4:
                let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
            default:
                XCTFail("bad filter type \(filter)")
                predictor = 0
            }
            row[i] = row[i] &+ UInt8(predictor)
        }
        png.pixels += row
        previous = row
    }
    return png
}

/// Parses `svg` as XML, failing on any well-formedness error; returns each element's text, one per line.
private func parseSVG(_ svg: String) throws -> String {
    /// Collects each element's character data; it can arrive in several pieces (around entities, for one).
    final class Collector: NSObject, XMLParserDelegate {
        var texts: [String] = []
        var current = ""
        var root: String?
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            current = ""
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { texts.append(trimmed) }
            current = ""
        }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    // Linux's parser can report success while recording an error, so check both.
    guard parser.parse(), parser.parserError == nil else {
        XCTFail("SVG is not well-formed XML: \(String(describing: parser.parserError))\n\(svg)")
        return ""
    }
    XCTAssertEqual(collector.root, "svg")
    return collector.texts.joined(separator: "\n")
}
