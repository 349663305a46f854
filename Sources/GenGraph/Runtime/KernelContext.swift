import Kernels

/// The kernels' execution context: thread count and a scratch arena that
/// grows to the largest request and is then reused.
final class KernelContext {
    let threads: Int
    private var scratch = Buffer(count: 0)

    init(threads: Int) { self.threads = threads }

    /// A context with at least `floats` of scratch.
    func ctx(scratch floats: Int64 = 0) -> gg_ctx {
        if Int(floats) > scratch.count { scratch = Buffer(count: Int(floats)) }
        return gg_ctx(nthreads: Int32(threads), isa: -1, scratch: scratch.pointer, scratch_len: Int64(scratch.count))
    }
}

/// Turns a kernel's status into a thrown error naming the op.
func check(_ status: gg_status, _ op: String, _ detail: @autoclosure () -> String = "") throws {
    switch status {
    case GG_OK: return
    case GG_ERR_SCRATCH: throw GraphError(op: op, "kernel scratch too small (internal error) \(detail())")
    default: throw GraphError(op: op, "kernel rejected its arguments \(detail())")
    }
}

/// Deterministic 64-bit mixing (SplitMix64's finaliser), for deriving random keys.
func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// FNV-1a of a name: stable across runs and processes, unlike Swift's Hasher.
func stableHash(_ name: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return h
}
