import Kernels
import XCTest

final class CPUTests: XCTestCase {
    func testContextISAIsClampedToTheCPU() {
        let best = gg_cpu_isa()
        var ctx = gg_ctx(nthreads: 1, isa: -1, scratch: nil, scratch_len: 0)
        XCTAssertEqual(gg_ctx_isa(&ctx), best)
        ctx.isa = Int32(GG_ISA_PORTABLE.rawValue)
        XCTAssertEqual(gg_ctx_isa(&ctx), GG_ISA_PORTABLE)
        ctx.isa = 99
        XCTAssertEqual(gg_ctx_isa(&ctx), best)
    }

    func testThreadDefaultsArePositive() {
        XCTAssertGreaterThanOrEqual(gg_default_threads(), 1)
    }
}
