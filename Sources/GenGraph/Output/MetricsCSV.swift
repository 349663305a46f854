import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The contents of a metrics CSV file: its header and each row's fields as text.
public struct MetricsTable: Equatable {
    /// Column names, in file order.
    public var columns: [String]
    /// Rows, each with one field per column.
    public var rows: [[String]]

    /// A table from its header and rows.
    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The column `name` as numbers, empty or non-numeric fields as NaN; nil if there is no such column.
    public func numbers(_ name: String) -> [Double]? {
        guard let index = columns.firstIndex(of: name) else { return nil }
        return rows.map { $0.indices.contains(index) ? Double($0[index]) ?? .nan : .nan }
    }

    /// The plot series of column `y` against column `x`, named `y`; nil if either column is missing.
    /// Rows lacking either value become NaN points, which the plot skips.
    public func series(x: String, y: String) -> LossPlot.Series? {
        guard let xs = numbers(x), let ys = numbers(y) else { return nil }
        return LossPlot.Series(name: y, points: zip(xs, ys).map { (x: $0, y: $1) })
    }
}

/// Reading and formatting of metrics CSV files (RFC 4180: comma-separated, double quotes around fields that need them).
public enum MetricsCSV {
    /// Reads a metrics CSV file written by `MetricsCSVWriter` (or any RFC 4180 CSV with a header row).
    public static func read(_ path: String) throws -> MetricsTable {
        let parsed = try parseRecords(OutputFile.read(path), path: path)
        var records = parsed.records
        // A last row without its newline is still valid CSV, unless it was cut short.
        if let tail = parsed.tail {
            guard records.isEmpty || tail.fields.count == records[0].fields.count else {
                throw OutputError.malformedCSV(path: path, line: tail.line, reason: "incomplete last row")
            }
            records.append(tail)
        }
        guard let header = records.first else { throw OutputError.malformedCSV(path: path, line: 1, reason: "no header row") }
        for record in records.dropFirst() where record.fields.count != header.fields.count {
            throw OutputError.malformedCSV(
                path: path, line: record.line,
                reason: "row has \(record.fields.count) fields, header has \(header.fields.count)")
        }
        return MetricsTable(columns: header.fields, rows: records.dropFirst().map(\.fields))
    }

    /// `field` as it appears in a CSV file: quoted, with quotes doubled, when it holds a comma,
    /// quote, line break or leading/trailing space (which some readers would otherwise trim).
    public static func quote(_ field: String) -> String {
        let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || field.first == " " || field.last == " "
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `value` as a field: integral values without a fraction (steps read as "100", not "100.0"),
    /// others in the shortest form that reads back exactly; "nan", "inf", "-inf" as Python and Swift parse them.
    public static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 9.007_199_254_740_992e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// One CSV record, the line it starts on (1-based) and the byte offset just past it.
    struct Record {
        var fields: [String]
        var line: Int
        var end: Int
    }

    /// Splits `bytes` into newline-terminated records, plus the unterminated remainder if any.
    static func parseRecords(_ bytes: [UInt8], path: String) throws -> (records: [Record], tail: Record?) {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, recordLine = 1
        var i = 0
        var inRecord = false
        var atFieldStart = true
        while i < bytes.count {
            let b = bytes[i]
            inRecord = true
            if b == quote && atFieldStart {
                // A quoted field runs to the next quote not followed by another quote.
                let openLine = line
                i += 1
                while true {
                    guard i < bytes.count else {
                        throw OutputError.malformedCSV(path: path, line: openLine, reason: "unterminated quoted field")
                    }
                    if bytes[i] == quote {
                        i += 1
                        guard i < bytes.count, bytes[i] == quote else { break }
                    } else if bytes[i] == lf {
                        line += 1
                    }
                    field.append(bytes[i])
                    i += 1
                }
                guard i == bytes.count || [comma, lf, cr].contains(bytes[i]) else {
                    throw OutputError.malformedCSV(path: path, line: line, reason: "text after a closing quote")
                }
                atFieldStart = false
                continue
            }
            atFieldStart = false
            switch b {
            case comma:
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
                atFieldStart = true
            case lf, cr:
                if b == cr, i + 1 < bytes.count, bytes[i + 1] == lf { i += 1 }
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
                line += 1
                records.append(Record(fields: fields, line: recordLine, end: i + 1))
                fields = []
                recordLine = line
                inRecord = false
                atFieldStart = true
            default:
                field.append(b)
            }
            i += 1
        }
        guard inRecord else { return (records, nil) }
        fields.append(String(decoding: field, as: UTF8.self))
        return (records, Record(fields: fields, line: recordLine, end: bytes.count))
    }
}

/// Appends metrics rows to a CSV file, one per logged step or epoch. The header is written only
/// when the file is new, so a resumed run keeps extending the same file; each row goes out in one
/// append-mode write, so a reader (such as a plot refresh) sees whole rows.
public final class MetricsCSVWriter {
    /// The file being appended to.
    public let path: String
    /// The columns of every row, in file order.
    public let columns: [String]
    private let descriptor: Int32

    /// Opens `path` for appending rows of `columns`. An existing file must have the same header;
    /// an unfinished last row (left by a crash) is cut off. With `replacing`, any existing file is emptied first.
    public init(path: String, columns: [String], replacing: Bool = false) throws {
        guard !columns.isEmpty, Set(columns).count == columns.count else {
            throw OutputError.invalidArgument(path: path, reason: "CSV columns \(columns) must be non-empty and distinct")
        }
        self.path = path
        self.columns = columns
        var keepBytes = 0
        if !replacing, let existing = try? OutputFile.read(path), !existing.isEmpty {
            let parsed = try MetricsCSV.parseRecords(existing, path: path)
            if let header = parsed.records.first {
                guard header.fields == columns else {
                    throw OutputError.headerMismatch(path: path, expected: columns, found: header.fields)
                }
                keepBytes = parsed.records.last!.end
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        guard ftruncate(fd, off_t(keepBytes)) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw OutputError.cannotWrite(path: path, reason: reason)
        }
        // Assigned last: once every property is set, a throw below runs deinit, which closes it.
        descriptor = fd
        if keepBytes == 0 { try writeLine(columns) }
    }

    deinit { close(descriptor) }

    /// Appends one row; columns absent from `fields` are left empty (e.g. metrics measured only every few steps).
    public func append(_ fields: [String: String]) throws {
        if let unknown = fields.keys.first(where: { !columns.contains($0) }) {
            throw OutputError.invalidArgument(path: path, reason: "no CSV column named '\(unknown)' (columns: \(columns))")
        }
        try writeLine(columns.map { fields[$0] ?? "" })
    }

    /// Appends one row of numbers, formatted by `MetricsCSV.format`; absent columns are left empty.
    public func append(_ numbers: [String: Double]) throws {
        try append(numbers.mapValues(MetricsCSV.format))
    }

    private func writeLine(_ fields: [String]) throws {
        let bytes = Array((fields.map(MetricsCSV.quote).joined(separator: ",") + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let reason = written < 0 ? String(cString: strerror(errno)) : "short write (\(written) of \(bytes.count) bytes)"
            throw OutputError.cannotWrite(path: path, reason: reason)
        }
    }
}
