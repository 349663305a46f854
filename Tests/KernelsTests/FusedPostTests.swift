import Kernels
import XCTest

/// A program's `post` program runs after it, over the reduced space, in the same call.
final class FusedPostTests: XCTestCase {
    func testPostProgramScalesFinishedRowSums() {
        var values = SeededValues(seed: 21)
        let x = AlignedBuffer(values.array(4 * 5))
        let sums = AlignedBuffer(count: 4, fill: .nan), scaled = AlignedBuffer(count: 4, fill: .nan)
        let mainCode = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_REDUCE, Int32(GG_REDUCE_SUM.rawValue), dst: 0, a: 0)]
        let postCode = [finstr(GG_FOP_LOAD, dst: 0, a: 0), finstr(GG_FOP_CONST, dst: 1, p0: 0.5),
                        finstr(GG_FOP_BINARY, Int32(GG_BINARY_MUL.rawValue), dst: 0, a: 0, b: 1),
                        finstr(GG_FOP_STORE, dst: 0, a: 0)]
        let mainShape: [Int64] = [4, 5], postShape: [Int64] = [4]
        let mainIn: [UnsafePointer<Float>?] = [UnsafePointer(x.pointer)], mainOut: [UnsafeMutablePointer<Float>?] = [sums.pointer]
        let postIn: [UnsafePointer<Float>?] = [UnsafePointer(sums.pointer)], postOut: [UnsafeMutablePointer<Float>?] = [scaled.pointer]
        let mainInStrides: [Int64] = [5, 1], mainOutStrides: [Int64] = [1, 0], unit: [Int64] = [1]
        var post = gg_fprogram(ninstr: 4, instr: postCode.withUnsafeBufferPointer { $0.baseAddress }, nregs: 2, rank: 1,
                               shape: postShape.withUnsafeBufferPointer { $0.baseAddress }, ninputs: 1,
                               inputs: postIn.withUnsafeBufferPointer { $0.baseAddress },
                               in_strides: unit.withUnsafeBufferPointer { $0.baseAddress }, noutputs: 1,
                               outputs: postOut.withUnsafeBufferPointer { $0.baseAddress },
                               out_strides: unit.withUnsafeBufferPointer { $0.baseAddress }, keys: nil, post: nil)
        withExtendedLifetime((mainCode, postCode, mainShape, postShape, mainIn, mainOut, postIn, postOut, mainInStrides,
                              mainOutStrides, unit)) {
            withUnsafePointer(to: &post) { postPointer in
                var main = gg_fprogram(ninstr: 2, instr: mainCode.withUnsafeBufferPointer { $0.baseAddress }, nregs: 1, rank: 2,
                                       shape: mainShape.withUnsafeBufferPointer { $0.baseAddress }, ninputs: 1,
                                       inputs: mainIn.withUnsafeBufferPointer { $0.baseAddress },
                                       in_strides: mainInStrides.withUnsafeBufferPointer { $0.baseAddress }, noutputs: 1,
                                       outputs: mainOut.withUnsafeBufferPointer { $0.baseAddress },
                                       out_strides: mainOutStrides.withUnsafeBufferPointer { $0.baseAddress }, keys: nil,
                                       post: postPointer)
                let tc = TestContext(threads: 2, scratchFloats: Int(gg_fused_f32_scratch(nil, &main)) * 2 + 4096)
                XCTAssertEqual(gg_fused_f32(&tc.ctx, &main), GG_OK)
                let rows = (0..<4).map { r in (0..<5).reduce(Float(0)) { $0 + x.array[r * 5 + $1] } }
                for r in 0..<4 { XCTAssertEqual(scaled.array[r], sums.array[r] * 0.5) }
                for r in 0..<4 { XCTAssertEqual(sums.array[r], rows[r], accuracy: 1e-5) }
                let fast = scaled.array
                XCTAssertEqual(gg_fused_f32_ref(&tc.ctx, &main), GG_OK)
                for r in 0..<4 { XCTAssertEqual(scaled.array[r], fast[r], accuracy: 1e-5) }
                // The GEMM-epilogue entry point runs one elementwise program: a post program is refused.
                let lo: [Int64] = [0, 0], extent: [Int64] = [1, 1]
                XCTAssertEqual(gg_fused_region_f32(&tc.ctx, &main, lo, extent), GG_ERR_ARG)
            }
        }
    }
}
