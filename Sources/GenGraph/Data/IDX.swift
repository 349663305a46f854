import CZlib
import Foundation

/// An error reading or validating a dataset file; its description names the file and the problem.
public enum DataError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case badMagic(path: String, found: UInt32, expected: UInt32)
    case unsupportedElementType(path: String, typeByte: UInt8)
    case truncated(path: String, expectedBytes: Int, presentBytes: Int)
    case trailingBytes(path: String, expectedBytes: Int, presentBytes: Int)
    case corruptGzip(path: String, reason: String)
    case countMismatch(imagesPath: String, imageCount: Int, labelsPath: String, labelCount: Int)
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    case invalidBatchSize(batchSize: Int, exampleCount: Int)

    /// A one-line message naming the file and what is wrong with it.
    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path): file not found"
        case let .unreadable(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .badMagic(path, found, expected):
            return "\(path): bad IDX magic number \(hex(found, digits: 8)), expected \(hex(expected, digits: 8))"
        case let .unsupportedElementType(path, typeByte):
            return "\(path): unsupported IDX element type byte \(hex(typeByte, digits: 2)); only 0x08 (unsigned byte) is supported"
        case let .truncated(path, expected, present):
            return "\(path): truncated IDX data: expected \(expected) bytes, only \(present) present"
        case let .trailingBytes(path, expected, present):
            return "\(path): IDX data has \(present) bytes but its header describes \(expected)"
        case let .corruptGzip(path, reason):
            return "\(path): corrupt gzip stream: \(reason)"
        case let .countMismatch(imagesPath, imageCount, labelsPath, labelCount):
            return "image/label count mismatch: \(imagesPath) has \(imageCount) images but \(labelsPath) has \(labelCount) labels"
        case let .labelOutOfRange(path, index, label, classCount):
            return "\(path): label \(label) at index \(index) is outside 0..<\(classCount)"
        case let .invalidBatchSize(batchSize, exampleCount):
            return "batch size \(batchSize) must be between 1 and the number of examples (\(exampleCount))"
        }
    }

    /// The same message as `description`, so `localizedDescription` is informative too.
    public var errorDescription: String? { description }
}

private func hex<T: BinaryInteger>(_ value: T, digits: Int) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
}

/// A u8 IDX array: its shape (outermost dimension first) and its row-major values.
struct IDXArray {
    var shape: [Int]
    var values: [UInt8]

    /// The IDX element type byte for unsigned bytes, the only type MNIST-style files use.
    static let unsignedByteType: UInt8 = 0x08

    /// Reads a u8 IDX file with `dimensions` dimensions, raw or gzip-compressed.
    init(contentsOf path: String, dimensions: Int) throws {
        var bytes = try readPossiblyGzippedFile(path)
        let expectedMagic = UInt32(Self.unsignedByteType) << 8 | UInt32(dimensions)
        guard bytes.count >= 4 else {
            throw DataError.truncated(path: path, expectedBytes: 4, presentBytes: bytes.count)
        }
        let magic = bigEndianUInt32(bytes, at: 0)
        // The first two bytes are always zero in IDX; anything else means this is not an IDX file.
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError.badMagic(path: path, found: magic, expected: expectedMagic)
        }
        guard bytes[2] == Self.unsignedByteType else {
            throw DataError.unsupportedElementType(path: path, typeByte: bytes[2])
        }
        guard Int(bytes[3]) == dimensions else {
            throw DataError.badMagic(path: path, found: magic, expected: expectedMagic)
        }
        let headerSize = 4 + 4 * dimensions
        guard bytes.count >= headerSize else {
            throw DataError.truncated(path: path, expectedBytes: headerSize, presentBytes: bytes.count)
        }
        let shape = (0..<dimensions).map { Int(bigEndianUInt32(bytes, at: 4 + 4 * $0)) }
        // Saturate rather than trap: a corrupt header must become an error, not a crash.
        var elementCount = 1
        for extent in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            elementCount = overflow ? Int.max : product
        }
        let (sum, overflow) = headerSize.addingReportingOverflow(elementCount)
        let expectedSize = overflow ? Int.max : sum
        guard bytes.count >= expectedSize else {
            throw DataError.truncated(path: path, expectedBytes: expectedSize, presentBytes: bytes.count)
        }
        guard bytes.count == expectedSize else {
            throw DataError.trailingBytes(path: path, expectedBytes: expectedSize, presentBytes: bytes.count)
        }
        // Shifting in place keeps the single allocation of a file that may be tens of megabytes.
        bytes.removeFirst(headerSize)
        self.shape = shape
        self.values = bytes
    }
}

private func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
}

/// Input and output are streamed through buffers of this size, so no file size is ever guessed.
private let chunkSize = 1 << 20

/// Returns the contents of `path`, inflated when it starts with the gzip magic 0x1f 0x8b.
func readPossiblyGzippedFile(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        let code = errno
        if code == ENOENT { throw DataError.fileNotFound(path: path) }
        throw DataError.unreadable(path: path, reason: String(cString: strerror(code)))
    }
    defer { fclose(file) }
    var reader = ChunkReader(path: path, file: file)
    try reader.readNext()
    if reader.count >= 2, reader.buffer[0] == 0x1f, reader.buffer[1] == 0x8b {
        return try inflateGzip(&reader)
    }
    var status = stat()
    var contents = [UInt8]()
    contents.reserveCapacity(fstat(fileno(file), &status) == 0 ? Int(status.st_size) : 0)
    while reader.count > 0 {
        contents.append(contentsOf: reader.buffer[..<reader.count])
        try reader.readNext()
    }
    return contents
}

/// Reads an open file in fixed-size chunks into one reused buffer.
private struct ChunkReader {
    let path: String
    let file: UnsafeMutablePointer<FILE>
    var buffer = [UInt8](repeating: 0, count: chunkSize)
    /// How many bytes of `buffer` the last read filled; 0 at the end of the file.
    var count = 0

    mutating func readNext() throws {
        let file = self.file
        count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count < buffer.count, ferror(file) != 0 {
            throw DataError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

/// Inflates a gzip file (one or more concatenated members) whose first chunk `reader` already holds.
private func inflateGzip(_ reader: inout ChunkReader) throws -> [UInt8] {
    let path = reader.path
    // zlib keeps a pointer back to its z_stream and checks it on every call, so it needs a fixed address.
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    defer { stream.deallocate() }
    // 16 + MAX_WBITS asks zlib for gzip framing (header and CRC) rather than a raw zlib stream.
    guard inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw DataError.corruptGzip(path: path, reason: zlibMessage(stream, default: "zlib could not start inflating"))
    }
    defer { inflateEnd(stream) }

    var output = [UInt8]()
    var outputChunk = [UInt8](repeating: 0, count: chunkSize)
    var memberEnded = false
    while reader.count > 0 {
        let count = reader.count
        try reader.buffer.withUnsafeMutableBufferPointer { input in
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = UInt32(count)
            // Keep going while input remains or the last call filled the output (more may be pending).
            repeat {
                if memberEnded {
                    // More input after a member's end: gzip allows concatenated members.
                    inflateReset(stream)
                    memberEnded = false
                }
                let result = outputChunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    let result = inflate(stream, Z_NO_FLUSH)
                    let produced = out.count - Int(stream.pointee.avail_out)
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: out[..<produced]))
                    return result
                }
                switch result {
                case Z_STREAM_END:
                    memberEnded = true
                case Z_OK, Z_BUF_ERROR:
                    break
                default:
                    throw DataError.corruptGzip(path: path, reason: zlibMessage(stream, default: "zlib error \(result)"))
                }
            } while stream.pointee.avail_in > 0 || (stream.pointee.avail_out == 0 && !memberEnded)
        }
        try reader.readNext()
    }
    guard memberEnded else {
        throw DataError.corruptGzip(path: path, reason: "compressed data ends before the end of the stream (file truncated?)")
    }
    return output
}

private func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>, default fallback: String) -> String {
    stream.pointee.msg.map { String(cString: $0) } ?? fallback
}
