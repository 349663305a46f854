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

    /// A copy of another buffer's values.
    convenience init(copying other: AlignedBuffer) {
        self.init(count: other.count)
        pointer.update(from: other.pointer, count: other.count)
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

/// Thread counts whose results must equal one thread's, bit for bit: even and odd teams, a prime
/// one, and more threads than cores (parts of uneven sizes that start and end mid-tile).
let threadCounts: [Int32] = [1, 2, 3, 4, 5, 7]
/// The same idea where every run is costly: one even team and one odd.
let fewThreadCounts: [Int32] = [1, 2, 3]

/// Runs `run` with each of `counts` threads and asserts that every output equals the first count's,
/// bit for bit; returns the first count's outputs.
@discardableResult
func assertSameOnThreadCounts(_ counts: [Int32], _ what: @autoclosure () -> String = "",
                              file: StaticString = #filePath, line: UInt = #line,
                              _ run: (Int32) -> [[Float]]) -> [[Float]] {
    let first = run(counts[0])
    for threads in counts.dropFirst() {
        let other = run(threads)
        XCTAssertEqual(other.count, first.count, what(), file: file, line: line)
        for (k, (a, b)) in zip(first, other).enumerated() {
            assertBitIdentical(b, a, "\(what()) output \(k): \(threads) vs \(counts[0]) threads", file: file, line: line)
        }
    }
    return first
}

/// gamma_n = n u / (1 - n u), u = 2^-24: a float computation whose every result goes through at most
/// n roundings is within gamma_n * (sum of the magnitudes of its terms) of the exact value (Higham,
/// "Accuracy and Stability of Numerical Algorithms", ch. 3), whatever the order of its additions.
func gamma(_ n: Int) -> Double {
    let nu = Double(n) * Double(Float.ulpOfOne) / 2
    return nu / (1 - nu)
}

/// Asserts |a[i] - b[i]| <= bound[i] everywhere (NaNs and infinities must match exactly), naming the
/// first element that is off.
func assertWithinBound(_ a: [Float], _ b: [Float], _ bound: [Double], _ message: @autoclosure () -> String = "",
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length " + message(), file: file, line: line)
    for i in 0..<min(a.count, b.count, bound.count) {
        let ok = a[i].isFinite && b[i].isFinite ? abs(Double(a[i]) - Double(b[i])) <= bound[i]
                                                : a[i] == b[i] || (a[i].isNaN && b[i].isNaN)
        if !ok {
            XCTFail("index \(i): \(a[i]) vs reference \(b[i]), bound \(bound[i]) \(message())", file: file, line: line)
            return
        }
    }
}
