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
    /// The data goes on far past the size its header describes (a corrupt file or a decompression bomb); reading stopped at `readBytes`.
    case dataBeyondHeader(path: String, expectedBytes: Int, readBytes: Int)
    /// The header's extents overflow or describe more data than `limit` bytes.
    case tooLarge(path: String, shape: [Int], limit: Int)
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
        case let .dataBeyondHeader(path, expected, read):
            return "\(path): IDX data goes on past \(read) bytes but its header describes \(expected); stopped reading (corrupt file or decompression bomb?)"
        case let .tooLarge(path, shape, limit):
            return "\(path): IDX header describes shape \(shape), more than the \(limit)-byte limit on IDX data"
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

    /// The most data a header may describe: far above any MNIST-format set (Fashion-MNIST's
    /// training images are 47 MB), yet small enough that the pixels fit in memory as Floats.
    static let maximumDataBytes = 1 << 31

    /// Bytes past those the header describes that are still counted, so a slightly long file
    /// is reported with its exact size; beyond them reading stops.
    static let trailingBytesCounted = 1 << 16

    /// Reads a u8 IDX file with `dimensions` dimensions, raw or gzip-compressed. The data is
    /// checked as it streams in, so memory never exceeds what the header describes plus a chunk.
    init(contentsOf path: String, dimensions: Int) throws {
        var parser = IDXStreamParser(path: path, dimensions: dimensions)
        try readPossiblyGzippedFile(path) { try parser.consume($0) }
        (shape, values) = try parser.finish()
    }
}

/// Checks an IDX file as its bytes arrive: the magic number first, then the shape, then no more
/// data than the shape describes.
private struct IDXStreamParser {
    let path: String
    let dimensions: Int
    let headerSize: Int
    private var header: [UInt8] = []
    private var shape: [Int]?
    private var dataSize = 0
    private var values: [UInt8] = []
    /// Bytes past `dataSize`, counted but not kept.
    private var excess = 0

    init(path: String, dimensions: Int) {
        self.path = path
        self.dimensions = dimensions
        headerSize = 4 + 4 * dimensions
    }

    private var expectedMagic: UInt32 { UInt32(IDXArray.unsignedByteType) << 8 | UInt32(dimensions) }
    private var presentBytes: Int { header.count + values.count + excess }

    mutating func consume(_ chunk: UnsafeBufferPointer<UInt8>) throws {
        var rest = chunk[...]
        if shape == nil {
            let taken = rest.prefix(headerSize - header.count)
            header += taken
            rest = rest.dropFirst(taken.count)
            if header.count >= 4 { try checkMagic() }
            guard header.count == headerSize else { return }
            try readShape()
        }
        let kept = rest.prefix(dataSize - values.count)
        values.append(contentsOf: UnsafeBufferPointer(rebasing: kept))
        excess += rest.count - kept.count
        guard excess <= IDXArray.trailingBytesCounted else {
            throw DataError.dataBeyondHeader(path: path, expectedBytes: headerSize + dataSize, readBytes: presentBytes)
        }
    }

    /// The shape and values, once the input has ended exactly where the header says it should.
    func finish() throws -> (shape: [Int], values: [UInt8]) {
        guard header.count >= 4 else {
            throw DataError.truncated(path: path, expectedBytes: 4, presentBytes: header.count)
        }
        guard let shape else {
            throw DataError.truncated(path: path, expectedBytes: headerSize, presentBytes: header.count)
        }
        guard values.count == dataSize else {
            throw DataError.truncated(path: path, expectedBytes: headerSize + dataSize, presentBytes: presentBytes)
        }
        guard excess == 0 else {
            throw DataError.trailingBytes(path: path, expectedBytes: headerSize + dataSize, presentBytes: presentBytes)
        }
        return (shape, values)
    }

    private func checkMagic() throws {
        let magic = bigEndianUInt32(header, at: 0)
        // The first two bytes are always zero in IDX; anything else means this is not an IDX file.
        guard header[0] == 0, header[1] == 0 else {
            throw DataError.badMagic(path: path, found: magic, expected: expectedMagic)
        }
        guard header[2] == IDXArray.unsignedByteType else {
            throw DataError.unsupportedElementType(path: path, typeByte: header[2])
        }
        guard Int(header[3]) == dimensions else {
            throw DataError.badMagic(path: path, found: magic, expected: expectedMagic)
        }
    }

    /// Reads the extents and sizes the data, refusing sizes that overflow or pass the limit before
    /// anything is allocated for them.
    private mutating func readShape() throws {
        let shape = (0..<dimensions).map { Int(bigEndianUInt32(header, at: 4 + 4 * $0)) }
        // Zero extents are skipped so that every partial product, in any order, stays within the limit.
        var size = 1
        for extent in shape where extent > 0 {
            let (product, overflow) = size.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= IDXArray.maximumDataBytes else {
                throw DataError.tooLarge(path: path, shape: shape, limit: IDXArray.maximumDataBytes)
            }
            size = product
        }
        self.shape = shape
        dataSize = shape.contains(0) ? 0 : size
        values.reserveCapacity(dataSize)
    }
}

private func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
}

/// Input and output are streamed through buffers of this size, so no file size is ever guessed.
private let chunkSize = 1 << 20

/// Streams the contents of `path` to `consume` chunk by chunk, inflated when it starts with the
/// gzip magic 0x1f 0x8b; an error thrown by `consume` stops the reading.
func readPossiblyGzippedFile(_ path: String, _ consume: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
    guard let file = fopen(path, "rb") else {
        let code = errno
        if code == ENOENT { throw DataError.fileNotFound(path: path) }
        throw DataError.unreadable(path: path, reason: String(cString: strerror(code)))
    }
    defer { fclose(file) }
    var reader = ChunkReader(path: path, file: file)
    try reader.readNext()
    if reader.count >= 2, reader.buffer[0] == 0x1f, reader.buffer[1] == 0x8b {
        return try inflateGzip(&reader, consume)
    }
    while reader.count > 0 {
        try reader.buffer.withUnsafeBufferPointer { try consume(UnsafeBufferPointer(rebasing: $0[..<reader.count])) }
        try reader.readNext()
    }
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

/// Inflates a gzip file (one or more concatenated members) whose first chunk `reader` already
/// holds, handing each inflated chunk to `consume` as it is produced.
private func inflateGzip(_ reader: inout ChunkReader, _ consume: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
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
                let result = try outputChunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    let result = inflate(stream, Z_NO_FLUSH)
                    let produced = out.count - Int(stream.pointee.avail_out)
                    try consume(UnsafeBufferPointer(rebasing: out[..<produced]))
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
}

private func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>, default fallback: String) -> String {
    stream.pointee.msg.map { String(cString: $0) } ?? fallback
}
