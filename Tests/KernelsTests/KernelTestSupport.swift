import Kernels
import XCTest

/// A 64-byte aligned f32 buffer owned by a test; frees itself.
final class AlignedBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int, fill: Float = 0) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: fill, count: max(count, 1))
    }

    convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { pointer[i] = v }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A kernel context with its own scratch, for tests.
final class TestContext {
    let scratch: AlignedBuffer
    var ctx: gg_ctx

    init(threads: Int32, isa: Int32 = -1, scratchFloats: Int = 0) {
        scratch = AlignedBuffer(count: scratchFloats)
        ctx = gg_ctx(nthreads: threads, isa: isa, scratch: scratch.pointer, scratch_len: Int64(scratchFloats))
    }
}

/// Calls `body` with a gg_fprogram over these arrays, pinned for the call.
/// Strides are flattened operand by operand (each `shape.count` long).
func withFusedProgram<R>(_ instr: [gg_finstr], nregs: Int32, shape: [Int64],
                         inputs: [UnsafePointer<Float>?], inStrides: [Int64],
                         outputs: [UnsafeMutablePointer<Float>?], outStrides: [Int64], keys: [UInt64] = [],
                         _ body: (UnsafePointer<gg_fprogram>) -> R) -> R {
    instr.withUnsafeBufferPointer { ip in
        shape.withUnsafeBufferPointer { sp in
            inputs.withUnsafeBufferPointer { inp in
                inStrides.withUnsafeBufferPointer { isp in
                    outputs.withUnsafeBufferPointer { op in
                        outStrides.withUnsafeBufferPointer { osp in
                            keys.withUnsafeBufferPointer { kp in
                                var p = gg_fprogram(
                                    ninstr: Int32(instr.count), instr: ip.baseAddress, nregs: nregs,
                                    rank: Int32(shape.count), shape: sp.baseAddress,
                                    ninputs: Int32(inputs.count), inputs: inp.baseAddress, in_strides: isp.baseAddress,
                                    noutputs: Int32(outputs.count), outputs: op.baseAddress, out_strides: osp.baseAddress,
                                    keys: keys.isEmpty ? nil : kp.baseAddress, post: nil)
                                return body(&p)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Deterministic test data: a 64-bit LCG mapped to [lo, hi).
struct SeededValues {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let unit = Float(state >> 40) / Float(1 << 24)
        return lo + (hi - lo) * unit
    }
    mutating func array(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in next(lo, hi) }
    }
}

/// Asserts |a - b| <= atol + rtol * |b| elementwise, naming the first bad index.
func assertClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length " + message(), file: file, line: line)
    for i in 0..<min(a.count, b.count) {
        let ok = (a[i].isNaN && b[i].isNaN) || abs(a[i] - b[i]) <= atol + rtol * abs(b[i])
        if !ok {
            XCTFail("index \(i): \(a[i]) vs reference \(b[i]) \(message())", file: file, line: line)
            return
        }
    }
}

/// Asserts two arrays are bit-identical (NaN payloads included).
func assertBitIdentical(_ a: [Float], _ b: [Float], _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), message(), file: file, line: line)
}
