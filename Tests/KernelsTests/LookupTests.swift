import Kernels
import XCTest

/// gg_lookup_rows_u8_f32 against its scalar reference: the data loader's byte-to-float kernel.
final class LookupTests: XCTestCase {
    /// A table whose entries are all distinct, so a wrong byte or a wrong row shows.
    let table: [Float] = (0..<256).map { Float($0) * 0.75 - 17 }

    func lookup(_ x: [UInt8], xRows: Int, rows: [Int64]?, nrows: Int, rowLen: Int, threads: Int32, isa: Int32,
                reference: Bool = false) -> (gg_status, [Float]) {
        let tc = TestContext(threads: threads, isa: isa)
        var y = [Float](repeating: .nan, count: Swift.max(0, nrows * rowLen))
        let status = y.withUnsafeMutableBufferPointer { yp in
            x.withUnsafeBufferPointer { xp in
                table.withUnsafeBufferPointer { tp in
                    func call(_ r: UnsafePointer<Int64>?) -> gg_status {
                        let f = reference ? gg_lookup_rows_u8_f32_ref : gg_lookup_rows_u8_f32
                        return f(&tc.ctx, yp.baseAddress, xp.baseAddress, Int64(xRows), r, Int64(nrows), Int64(rowLen), tp.baseAddress)
                    }
                    guard let rows else { return call(nil) }
                    return rows.withUnsafeBufferPointer { call($0.baseAddress) }
                }
            }
        }
        return (status, y)
    }

    func testEveryISAAndThreadCountMatchesTheReference() {
        var rng = SeededValues(seed: 11)
        // Row lengths with and without vector tails; enough rows (784 x 130) for two threads to split rows mid-way.
        for rowLen in [1, 7, 16, 17, 33, 784] {
            let xRows = 150
            let x = (0..<(xRows * rowLen)).map { _ in UInt8(truncatingIfNeeded: Int(rng.next(0, 256))) }
            let rows = (0..<130).map { _ in Swift.min(Int64(rng.next(0, Float(xRows))), Int64(xRows - 1)) } + [0, Int64(xRows - 1), 5, 5]
            for picked in [rows, nil] as [[Int64]?] {
                let nrows = picked?.count ?? xRows
                let (rs, ref) = lookup(x, xRows: xRows, rows: picked, nrows: nrows, rowLen: rowLen, threads: 1, isa: 0, reference: true)
                XCTAssertEqual(rs, GG_OK)
                XCTAssertEqual(ref[0], table[Int(x[Int(picked?[0] ?? 0) * rowLen])], "reference reads the table")
                for isa in ElementwiseTests.isas {
                    for threads: Int32 in [1, 2, 3] {
                        let (s, y) = lookup(x, xRows: xRows, rows: picked, nrows: nrows, rowLen: rowLen, threads: threads, isa: isa)
                        XCTAssertEqual(s, GG_OK)
                        let first = y.indices.first { y[$0].bitPattern != ref[$0].bitPattern }
                        XCTAssertNil(first, "first wrong element \(first ?? -1): row length \(rowLen), rows \(picked == nil ? "all" : "picked"), isa \(isa), \(threads) threads")
                    }
                }
            }
        }
    }

    func testARowOutsideTheSourceIsRefusedBeforeAnythingIsWritten() {
        let x = [UInt8](repeating: 3, count: 4 * 20)
        for bad: [Int64] in [[0, 4], [-1], [1, 2, 3, Int64.max]] {
            for reference in [false, true] {
                let (s, y) = lookup(x, xRows: 4, rows: bad, nrows: bad.count, rowLen: 20, threads: 2, isa: -1, reference: reference)
                XCTAssertEqual(s, GG_ERR_ARG, "rows \(bad)")
                XCTAssertTrue(y.allSatisfy(\.isNaN), "rows \(bad): nothing written")
            }
        }
        XCTAssertEqual(lookup(x, xRows: 4, rows: nil, nrows: 5, rowLen: 20, threads: 1, isa: -1).0, GG_ERR_ARG, "more rows than the source")
        XCTAssertEqual(lookup(x, xRows: 4, rows: nil, nrows: -1, rowLen: 20, threads: 1, isa: -1).0, GG_ERR_ARG)
        XCTAssertEqual(lookup(x, xRows: 4, rows: nil, nrows: 0, rowLen: 20, threads: 1, isa: -1).0, GG_OK)
    }
}
