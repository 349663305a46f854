import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error writing or reading one of the files a run produces (images, arrays, plots, metrics); its description names the file.
public enum OutputError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case invalidArgument(path: String?, reason: String)
    case compressionFailed(path: String, zlibCode: Int32)
    case malformedNPY(path: String, reason: String)
    case malformedCSV(path: String, line: Int, reason: String)
    case headerMismatch(path: String, expected: [String], found: [String])

    /// A one-line message naming the file and what is wrong.
    public var description: String {
        switch self {
        case let .cannotWrite(path, reason):
            return "\(path): cannot write file: \(reason)"
        case let .cannotRead(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .invalidArgument(path?, reason):
            return "\(path): \(reason)"
        case let .invalidArgument(nil, reason):
            return reason
        case let .compressionFailed(path, code):
            return "\(path): zlib compression failed with code \(code)"
        case let .malformedNPY(path, reason):
            return "\(path): not a readable .npy file: \(reason)"
        case let .malformedCSV(path, line, reason):
            return "\(path):\(line): malformed CSV: \(reason)"
        case let .headerMismatch(path, expected, found):
            return "\(path): existing CSV header \(found) does not match the columns being logged \(expected)"
        }
    }

    /// The same message as `description`, so `localizedDescription` is informative too.
    public var errorDescription: String? { description }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// File access shared by the output writers, namespaced so the helpers cannot clash with other parts of the module.
enum OutputFile {
    /// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
    /// so a reader (or a crash) never sees a half-written image, array or plot.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError.cannotWrite(path: path, reason: "creating \(temp): \(errnoText())") }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errnoText()
                    return
                }
                offset += n
            }
        }
        // Flush before the rename so that after a crash the name points at complete contents, not at an empty file.
        if failure == nil, fsync(fd) != 0 { failure = errnoText() }
        if close(fd) != 0, failure == nil { failure = errnoText() }
        if failure == nil, rename(temp, path) != 0 { failure = errnoText() }
        if let failure {
            unlink(temp)
            throw OutputError.cannotWrite(path: path, reason: failure)
        }
    }

    /// Reads the whole file at `path`, reporting a missing or unreadable file as an `OutputError`.
    static func read(_ path: String) throws -> [UInt8] {
        if let reason = unreadable(path) { throw OutputError.cannotRead(path: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else { throw OutputError.cannotRead(path: path, reason: "read failed") }
        return [UInt8](data)
    }

    /// Why `path` cannot be read as a file, in words (the cause Foundation's errors give only as
    /// a code); nil when it is a readable regular file.
    static func unreadable(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return errnoText() }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return access(path, R_OK) == 0 ? nil : "permission denied"
        case S_IFDIR: return "it is a directory"
        default: return "it is not a regular file (a device, pipe or socket)"
        }
    }
}
