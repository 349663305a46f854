/// A float32 array in NumPy's .npy format (little-endian `<f4`, C order), e.g. a batch of
/// generated samples of shape N x 1 x 28 x 28 that `numpy.load` reads directly.
public struct NPYArray: Equatable {
    /// The dimensions, outermost first; empty for a scalar.
    public let shape: [Int]
    /// Row-major values; as many as the product of `shape`.
    public let values: [Float]

    /// An array from its shape and values; throws if their sizes disagree.
    public init(shape: [Int], values: [Float]) throws {
        guard let count = Self.elementCount(shape) else {
            throw OutputError.invalidArgument(path: nil, reason: Self.overflowReason(shape))
        }
        guard count == values.count else {
            throw OutputError.invalidArgument(path: nil, reason: "shape \(shape) does not hold \(values.count) values")
        }
        self.shape = shape
        self.values = values
    }

    /// The .npy v1.0 file contents.
    public func encoded() -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ")
        // Python writes a one-element tuple as "(n,)"; numpy parses the header with Python's literal syntax.
        let tuple = shape.count == 1 ? "(\(dims),)" : "(\(dims))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }"
        // The format pads with spaces and ends with a newline so the data starts on a 64-byte boundary.
        let prefix = 10
        let unpadded = prefix + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let headerLength = UInt16(header.utf8.count)
        bytes += [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for v in values {
            let bits = v.bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        }
        return bytes
    }

    /// Writes the file to `path` atomically (temporary file, then rename).
    public func write(to path: String) throws {
        try OutputFile.writeAtomically(encoded(), to: path)
    }

    /// Reads a .npy file, accepting only `<f4` data in C order; errors name the file and the problem.
    public init(contentsOf path: String) throws {
        try self.init(decoding: OutputFile.read(path), path: path)
    }

    /// Decodes .npy bytes (format versions 1.0 to 3.0); `path` names the source in errors.
    public init(decoding bytes: [UInt8], path: String) throws {
        func fail(_ reason: String) -> OutputError { .malformedNPY(path: path, reason: reason) }
        guard bytes.count >= 8, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("missing the \\x93NUMPY magic string")
        }
        let major = bytes[6], minor = bytes[7]
        // Version 1.0 has a 2-byte header length; 2.0 and 3.0 have 4 bytes (3.0 also allows UTF-8, a superset of what we parse).
        guard (1...3).contains(major), minor == 0 else { throw fail("unsupported format version \(major).\(minor)") }
        let lengthBytes = major == 1 ? 2 : 4
        guard bytes.count >= 8 + lengthBytes else { throw fail("truncated header") }
        var headerLength = 0
        for i in (0..<lengthBytes).reversed() { headerLength = headerLength << 8 | Int(bytes[8 + i]) }
        let dataStart = 8 + lengthBytes + headerLength
        guard bytes.count >= dataStart else { throw fail("truncated header: needs \(dataStart) bytes, file has \(bytes.count)") }
        let text = String(decoding: bytes[(8 + lengthBytes)..<dataStart], as: UTF8.self)
        let header = try NPYHeader(parsing: text) { fail($0) }
        guard header.descr == "<f4" else {
            throw fail("dtype '\(header.descr)' is not supported; only little-endian float32 ('<f4') is")
        }
        guard !header.fortranOrder else { throw fail("fortran_order True is not supported; only C order is") }
        guard let count = Self.elementCount(header.shape),
              case let (expected, overflow) = dataStart.addingReportingOverflow(4 * count), !overflow else {
            throw fail(Self.overflowReason(header.shape))
        }
        guard bytes.count == expected else {
            throw fail("shape \(header.shape) needs \(expected) bytes in all, file has \(bytes.count)")
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = dataStart + 4 * i
            let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            values[i] = Float(bitPattern: bits)
        }
        self.shape = header.shape
        self.values = values
    }
}

extension NPYArray {
    /// The number of values of `shape`, or nil when an extent is negative or the extents'
    /// byte size overflows; zero extents are skipped so that no order of multiplying them can overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for extent in shape where extent != 0 {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard extent > 0, !overflow, product <= Int.max / 4 else { return nil }
            count = product
        }
        return shape.contains(0) ? 0 : count
    }

    static func overflowReason(_ shape: [Int]) -> String {
        shape.contains { $0 < 0 } ? "shape \(shape) has a negative extent" : "shape \(shape) is too large: its byte size overflows"
    }
}

/// The fields of a .npy header, parsed from its Python dict literal, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
private struct NPYHeader {
    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    init(parsing text: String, fail: (String) -> OutputError) throws {
        var scanner = LiteralScanner(Array(text.utf8))
        var seen = Set<String>()
        try scanner.expect("{", fail)
        while !scanner.consume("}") {
            let key = try scanner.string(fail)
            try scanner.expect(":", fail)
            switch key {
            case "descr": descr = try scanner.string(fail)
            case "fortran_order": fortranOrder = try scanner.bool(fail)
            case "shape": shape = try scanner.intTuple(fail)
            default: throw fail("unexpected header key '\(key)'")
            }
            seen.insert(key)
            if !scanner.consume(",") {
                try scanner.expect("}", fail)
                break
            }
        }
        let missing = ["descr", "fortran_order", "shape"].filter { !seen.contains($0) }
        guard missing.isEmpty else { throw fail("header lacks \(missing.joined(separator: ", "))") }
    }
}

/// A cursor over the few Python literal forms a .npy header uses: quoted strings, booleans and tuples of integers.
private struct LiteralScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x0A, 0x09, 0x0D].contains(bytes[position]) { position += 1 }
    }

    /// Skips whitespace and the given punctuation if it is next.
    mutating func consume(_ token: Character) -> Bool {
        skipSpace()
        guard position < bytes.count, bytes[position] == token.asciiValue else { return false }
        position += 1
        return true
    }

    mutating func expect(_ token: Character, _ fail: (String) -> OutputError) throws {
        guard consume(token) else { throw fail("header: expected '\(token)' at offset \(position)") }
    }

    mutating func string(_ fail: (String) -> OutputError) throws -> String {
        skipSpace()
        guard position < bytes.count, bytes[position] == 0x27 || bytes[position] == 0x22 else {
            throw fail("header: expected a quoted string at offset \(position)")
        }
        let quote = bytes[position]
        let start = position + 1
        guard let end = bytes[start...].firstIndex(of: quote) else { throw fail("header: unterminated string") }
        position = end + 1
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    mutating func bool(_ fail: (String) -> OutputError) throws -> Bool {
        skipSpace()
        for (word, value) in [("True", true), ("False", false)] where bytes[position...].starts(with: word.utf8) {
            position += word.utf8.count
            return value
        }
        throw fail("header: expected True or False at offset \(position)")
    }

    mutating func intTuple(_ fail: (String) -> OutputError) throws -> [Int] {
        try expect("(", fail)
        var values: [Int] = []
        while !consume(")") {
            skipSpace()
            let start = position
            while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
            let digits = String(decoding: bytes[start..<position], as: UTF8.self)
            guard !digits.isEmpty else { throw fail("header: expected a non-negative integer in the shape at offset \(start)") }
            guard let value = Int(digits) else { throw fail("header: shape extent \(digits) at offset \(start) is too large") }
            values.append(value)
            if !consume(",") {
                try expect(")", fail)
                break
            }
        }
        return values
    }
}
