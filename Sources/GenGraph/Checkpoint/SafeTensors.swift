import Foundation

/// A problem with a checkpoint file: which file, and what is wrong with it.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable {
        /// The file could not be read.
        case unreadable(String)
        /// The file could not be written (the previous file, if any, is untouched).
        case unwritable(String)
        /// The file ends before its header or its data does.
        case truncated(String)
        /// The JSON header cannot be parsed or does not describe tensors.
        case corruptHeader(String)
        case unsupportedDType(tensor: String, dtype: String)
        /// A tensor is stored with another supported dtype than the model needs.
        case wrongDType(tensor: String, found: String, expected: String)
        /// The tensors' byte ranges overlap, leave gaps, or do not cover the data.
        case badOffsets(String)
        /// A tensor's byte range does not hold exactly its shape's values.
        case sizeMismatch(tensor: String, shape: Shape, bytes: Int)
        /// The metadata is missing or says the file is something else.
        case notACheckpoint(String)
        case wrongModel(found: String, expected: String)
        case tensorNames(missing: [String], unexpected: [String])
        /// The optimiser file's objectives differ from those being restored.
        case objectives(missing: [String], unexpected: [String])
        case ruleMismatch(objective: String, found: String, expected: String)
        case shapeMismatch(tensor: String, found: Shape, expected: Shape)
        /// A tensor the model derives holds something else (`reason` says what).
        case badValue(tensor: String, reason: String)
    }

    /// The path of the file, as the caller gave it.
    public let file: String
    public let problem: Problem

    public init(file: String, _ problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case .unreadable(let m): what = "cannot read: \(m)"
        case .unwritable(let m): what = "cannot write: \(m)"
        case .truncated(let m): what = "truncated: \(m)"
        case .corruptHeader(let m): what = "corrupt header: \(m)"
        case .unsupportedDType(let t, let d): what = "tensor '\(t)' has dtype \(d); only F32 and I64 are supported"
        case .wrongDType(let t, let found, let expected): what = "tensor '\(t)' has dtype \(found), model expects \(expected)"
        case .badOffsets(let m): what = "bad data offsets: \(m)"
        case .sizeMismatch(let t, let s, let bytes):
            what = "tensor '\(t)' has shape \(Self.format(s)) but its data_offsets span \(bytes) bytes (F32 takes 4 a value, I64 8)"
        case .notACheckpoint(let m): what = "not a gengraph checkpoint: \(m)"
        case .wrongModel(let found, let expected): what = "holds model '\(found)', expected '\(expected)'"
        case .tensorNames(let missing, let unexpected): what = Self.differences("tensors", missing, unexpected)
        case .objectives(let missing, let unexpected): what = Self.differences("optimizer states for objectives", missing, unexpected)
        case .ruleMismatch(let objective, let found, let expected):
            what = "objective '\(objective)' was optimised with \(found), the run uses \(expected)"
        case .shapeMismatch(let t, let found, let expected):
            what = "tensor '\(t)' has shape \(Self.format(found)), model expects \(Self.format(expected))"
        case .badValue(let t, let reason): what = "tensor '\(t)' \(reason)"
        }
        return "checkpoint \(file): \(what)"
    }

    /// "missing tensors 'a', 'b'; unexpected tensors 'c'".
    private static func differences(_ what: String, _ missing: [String], _ unexpected: [String]) -> String {
        func list(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }
        return [missing.isEmpty ? nil : "missing \(what) \(list(missing))", unexpected.isEmpty ? nil : "unexpected \(what) \(list(unexpected))"]
            .compactMap { $0 }.joined(separator: "; ")
    }

    /// Shapes as PyTorch prints them, `[400, 784]`, since the messages compare against its modules.
    static func format(_ shape: Shape) -> String { "[" + shape.dims.map(String.init).joined(separator: ", ") + "]" }
}

/// The contents of a safetensors file (https://huggingface.co/docs/safetensors):
/// named tensors in file order and string metadata. Tensors are f32, except
/// the i64 counters PyTorch keeps beside them (batch norm's `num_batches_tracked`).
public struct SafeTensors {
    /// The element types read and written, as the header spells them.
    public enum DType: String {
        case f32 = "F32", i64 = "I64"

        var byteCount: Int { self == .f32 ? 4 : 8 }
    }

    /// One named tensor.
    public struct Entry {
        public var name: String
        /// The values as f32; an I64 tensor's integers rounded to the nearest Float, for comparing and printing.
        public private(set) var value: TensorValue
        /// An I64 tensor's exact values; nil for an F32 tensor.
        public private(set) var integers: [Int64]?

        public init(name: String, value: TensorValue) {
            self.name = name
            self.value = value
        }

        public init(name: String, shape: Shape, integers: [Int64]) throws {
            self.name = name
            value = try TensorValue(shape: shape, scalars: integers.map(Float.init))
            self.integers = integers
        }

        public var dtype: DType { integers == nil ? .f32 : .i64 }
    }

    /// Tensors in file order: the order written, and the order read back.
    public var entries: [Entry]
    public var metadata: [String: String]

    public init(entries: [Entry], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// Reads and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        if let reason = OutputFile.unreadable(url.path) { throw CheckpointError(file: url.path, .unreadable(reason)) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError(file: url.path, .unreadable(error.localizedDescription))
        }
        self = try Self.decode(data, file: url.path)
    }

    /// The metadata of the file at `url`, read from its header alone (the tensors may be large).
    public static func metadata(contentsOf url: URL) throws -> [String: String] {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: url.path, problem) }
        do {
            if let reason = OutputFile.unreadable(url.path) { throw fail(.unreadable(reason)) }
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            let header = try headerRange(try handle.read(upToCount: 8) ?? Data(), fileSize: Int(clamping: size), file: url.path)
            let bytes = try handle.read(upToCount: header.count) ?? Data()
            guard bytes.count == header.count else { throw fail(.truncated("the header ends early")) }
            return try parseHeader(bytes, file: url.path).metadata
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw fail(.unreadable(error.localizedDescription))
        }
    }

    /// The value of the entry called `name`.
    public subscript(name: String) -> TensorValue? { entries.first { $0.name == name }?.value }

    /// Writes the file atomically: a reader sees the old file or the new one, never a mix.
    public func write(to url: URL) throws {
        let data = try encoded(file: url.path)
        try AtomicFile.replace(url, with: data)
    }

    // MARK: encoding

    private func encoded(file: String) throws -> Data {
        var seen = Set<String>()
        for e in entries where !seen.insert(e.name).inserted {
            throw CheckpointError(file: file, .unwritable("two tensors named '\(e.name)'"))
        }
        if seen.contains(Self.metadataKey) {
            throw CheckpointError(file: file, .unwritable("'\(Self.metadataKey)' is reserved, not a tensor name"))
        }
        // Written by hand rather than with JSONSerialization so the header keeps the caller's tensor order.
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            fields.append("\(Self.quoted(Self.metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for e in entries {
            let bytes = e.value.shape.count * e.dtype.byteCount
            let shape = e.value.shape.dims.map(String.init).joined(separator: ",")
            fields.append("\(Self.quoted(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        // Like the reference implementation, pad with spaces so the data starts 8-byte aligned.
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)

        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for e in entries {
            if let integers = e.integers {
                integers.map(\.littleEndian).withUnsafeBytes { out.append(contentsOf: $0) }
            } else {
                let bits = UnsafeBufferPointer(start: e.value.buffer.pointer, count: e.value.shape.count).map { $0.bitPattern.littleEndian }
                bits.withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    private static let metadataKey = "__metadata__"

    /// A JSON string literal.
    private static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: decoding

    /// One tensor's header entry, as safetensors spells it.
    private struct HeaderEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private struct Header: Decodable {
        var tensors: [(name: String, entry: HeaderEntry)] = []
        var metadata: [String: String] = [:]

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            for key in c.allKeys {
                if key.stringValue == SafeTensors.metadataKey {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    tensors.append((key.stringValue, try c.decode(HeaderEntry.self, forKey: key)))
                }
            }
        }
    }

    /// Where the JSON header lies in a file of `fileSize` bytes that starts with `prefix`.
    private static func headerRange(_ prefix: Data, fileSize: Int, file: String) throws -> Range<Int> {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: file, problem) }
        guard prefix.count >= 8, fileSize >= 8 else {
            throw fail(.truncated("\(fileSize) bytes, shorter than the 8-byte header length"))
        }
        let headerLength = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(fileSize - 8) else {
            // Text or another format reads as a huge length: say that it may not be a checkpoint at all.
            throw fail(.truncated("header of \(headerLength) bytes runs past the end of the file (\(fileSize) bytes)"
                                  + (headerLength > UInt64(fileSize) * 16 ? "; it may not be a safetensors file at all" : "")))
        }
        return 8..<(8 + Int(headerLength))
    }

    private static func parseHeader(_ bytes: Data, file: String) throws -> Header {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: file, problem) }
        guard bytes.first == UInt8(ascii: "{") else { throw fail(.corruptHeader("does not start with '{'")) }
        do { return try JSONDecoder().decode(Header.self, from: bytes) } catch {
            throw fail(.corruptHeader(Self.explain(error)))
        }
    }

    private static func decode(_ data: Data, file: String) throws -> SafeTensors {
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError { CheckpointError(file: file, problem) }
        let headerBytes = try headerRange(data.prefix(8), fileSize: data.count, file: file)
        let dataStart = headerBytes.upperBound
        let header = try parseHeader(data.subdata(in: headerBytes), file: file)

        let dataLength = data.count - dataStart
        // File order is data order; ties (empty tensors) are broken by name so reading is deterministic.
        let tensors = header.tensors.sorted {
            ($0.entry.data_offsets.first ?? 0, $0.entry.data_offsets.last ?? 0, $0.name)
                < ($1.entry.data_offsets.first ?? 0, $1.entry.data_offsets.last ?? 0, $1.name)
        }
        var end = 0, previous: String?
        var entries: [Entry] = []
        for (name, e) in tensors {
            guard let dtype = DType(rawValue: e.dtype) else { throw fail(.unsupportedDType(tensor: name, dtype: e.dtype)) }
            guard e.shape.allSatisfy({ $0 >= 0 }) else {
                throw fail(.corruptHeader("tensor '\(name)' has a negative dimension in shape \(e.shape)"))
            }
            guard e.data_offsets.count == 2, e.data_offsets[0] >= 0, e.data_offsets[0] <= e.data_offsets[1] else {
                throw fail(.badOffsets("tensor '\(name)' has data_offsets \(e.data_offsets), not [begin, end] with begin <= end"))
            }
            let (begin, stop) = (e.data_offsets[0], e.data_offsets[1])
            if begin < end { throw fail(.badOffsets("tensors '\(previous!)' and '\(name)' overlap at byte \(begin)")) }
            if begin > end {
                let after = previous.map { "between '\($0)' and '\(name)'" } ?? "before '\(name)'"
                throw fail(.badOffsets("\(begin - end) unused bytes \(after)"))
            }
            guard stop <= dataLength else {
                throw fail(.truncated("tensor '\(name)' ends at data byte \(stop), but the file holds \(dataLength) bytes of data"))
            }
            let count = e.shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !count.1, count.0 <= Int.max / dtype.byteCount, count.0 * dtype.byteCount == stop - begin else {
                throw fail(.sizeMismatch(tensor: name, shape: Shape(e.shape), bytes: stop - begin))
            }
            switch dtype {
            case .f32:
                let buffer = Buffer(count: count.0)
                data.withUnsafeBytes { raw in
                    for i in 0..<count.0 {
                        let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + begin + 4 * i, as: UInt32.self))
                        buffer.pointer[i] = Float(bitPattern: bits)
                    }
                }
                entries.append(Entry(name: name, value: TensorValue(shape: Shape(e.shape), buffer: buffer)))
            case .i64:
                let integers = data.withUnsafeBytes { raw in
                    (0..<count.0).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: dataStart + begin + 8 * $0, as: Int64.self)) }
                }
                entries.append(try Entry(name: name, shape: Shape(e.shape), integers: integers))
            }
            end = stop
            previous = name
        }
        if end != dataLength {
            throw fail(.badOffsets("the tensors cover \(end) of the \(dataLength) bytes of data"))
        }
        return SafeTensors(entries: entries, metadata: header.metadata)
    }

    /// A decoding error as one line: where in the header, and what.
    private static func explain(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "" : "at " + keys.map { $0.intValue.map { "[\($0)]" } ?? "'\($0.stringValue)'" }.joined(separator: " ") + ": "
        }
        switch error {
        case DecodingError.dataCorrupted(let c): return path(c.codingPath) + "not valid JSON (\(c.debugDescription))"
        case DecodingError.keyNotFound(let key, let c): return path(c.codingPath) + "no field '\(key.stringValue)'"
        case DecodingError.typeMismatch(let type, let c): return path(c.codingPath) + "expected \(type)"
        case DecodingError.valueNotFound(let type, let c): return path(c.codingPath) + "expected \(type), found null"
        default: return "\(error)"
        }
    }
}

/// Replaces a file so that a crash at any point leaves either the old file or the new one.
enum AtomicFile {
    static func replace(_ url: URL, with data: Data) throws {
        let file = url.path
        func fail(_ what: String) -> CheckpointError { CheckpointError(file: file, .unwritable("\(what): \(String(cString: strerror(errno)))")) }
        let directory = url.deletingLastPathComponent().path
        // In the same directory, so the rename below cannot cross file systems.
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UInt32.random(in: 0...UInt32.max)).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create a temporary file in \(directory)") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw fail("writing \(temporary)") }
                    done += n
                }
            }
            // The data must be on disk before the rename makes it the checkpoint.
            guard fsync(fd) == 0 else { throw fail("syncing \(temporary)") }
        }
        guard rename(temporary, file) == 0 else { throw fail("renaming \(temporary)") }
        renamed = true
        // Persist the rename itself; the new file is complete either way, so a failure here is not an error.
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}
