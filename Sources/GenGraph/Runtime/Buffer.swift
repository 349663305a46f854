import Foundation

/// Host memory for f32 values, 64-byte aligned for the kernels' vector loads.
public final class Buffer {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// A buffer whose size the model or the user chose (parameters, activations, working
    /// storage): one the process cannot hold is refused with `what` named, rather than
    /// failing inside the allocator, which aborts the process.
    static func allocate(count: Int, for what: @autoclosure () -> String) throws -> Buffer {
        try HostMemory.require(floats: count, for: what())
        return Buffer(count: count)
    }

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    public convenience init(copying values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A realised tensor: a shape and its values, contiguous and row-major.
public struct TensorValue {
    public let shape: Shape
    let buffer: Buffer

    public init(shape: Shape, scalars: [Float]) throws {
        if shape.count != scalars.count {
            throw GraphError(op: "tensor", "shape \(shape) needs \(shape.count) values, got \(scalars.count)")
        }
        self.shape = shape
        buffer = Buffer(copying: scalars)
    }

    init(shape: Shape, buffer: Buffer) {
        self.shape = shape
        self.buffer = buffer
    }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: buffer.pointer, count: shape.count)) }
    /// The single value of a one-element tensor.
    public var scalar: Float { buffer.pointer[0] }
}

/// How much more memory the process can take, as the system reports it.
public enum HostMemory {
    /// Requests below this are not checked: reading the limits costs more than they risk.
    static let checkedBytes = 1 << 26

    /// The smaller of what the kernel can still hand out (MemAvailable plus free swap) and
    /// what the address-space limit (`ulimit -v`) leaves; nil where neither is known.
    static func availableBytes() -> Int? {
        var bounds: [Int] = []
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) {
            func kilobytes(_ field: String) -> Int? {
                meminfo.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                    .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }
            }
            if let available = kilobytes("MemAvailable") { bounds.append((available + (kilobytes("SwapFree") ?? 0)) * 1024) }
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
           let pages = statm.split(separator: " ").first.flatMap({ Int($0) }) {
            bounds.append(Int(clamping: limit.rlim_cur) - pages * sysconf(Int32(_SC_PAGESIZE)))
        }
        return bounds.min()
    }

    /// Refuses `floats` x `times` f32 values for `what` when the process cannot hold them (a count
    /// whose bytes overflow never fits).
    public static func require(floats: Int, times: Int = 1, for what: String) throws {
        let (values, overflow) = floats.multipliedReportingOverflow(by: times)
        let (product, tooMany) = values.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        let bytes = overflow || tooMany ? Int.max : product
        guard bytes >= checkedBytes, let available = availableBytes(), bytes > available else { return }
        throw GraphError(op: "memory", String(format: "%@ needs %.2f GB, more than the %.2f GB this process can still allocate",
                                              what, Double(bytes) / 1e9, Double(max(available, 0)) / 1e9))
    }
}
