import GenGraph
import XCTest

final class SmokeTests: XCTestCase {
    func testLibraryLoads() { XCTAssertFalse(KernelInfo.isa.isEmpty) }
}
