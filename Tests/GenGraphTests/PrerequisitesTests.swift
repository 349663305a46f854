import Foundation
import XCTest

/// A missing prerequisite skips a test on a developer's machine and fails it under CI=true.
final class PrerequisitesTests: XCTestCase {
    /// Runs `body` with CI set to `value` (nil: unset), restoring the caller's setting.
    private func withCI(_ value: String?, _ body: () throws -> Void) rethrows {
        let saved = getenv("CI").map { String(cString: $0) }
        defer { if let saved { setenv("CI", saved, 1) } else { unsetenv("CI") } }
        if let value { setenv("CI", value, 1) } else { unsetenv("CI") }
        try body()
    }

    func testMissingPythonPackagesSkipLocallyAndFailUnderCI() throws {
        try withCI(nil) {
            XCTAssertThrowsError(try Prerequisites.python(importing: "gengraph_no_such_module")) { error in
                XCTAssert(error is XCTSkip, "\(error)")
                XCTAssert("\(error)".contains("bash tools/setup.sh --peers"), "\(error)")
            }
        }
        try withCI("true") {
            XCTAssertThrowsError(try Prerequisites.python(importing: "gengraph_no_such_module")) { error in
                XCTAssert(error is Prerequisites.Missing, "\(error)")
                XCTAssert("\(error)".contains("CI=true"), "\(error)")
            }
        }
    }

    func testOnlyCIEqualToTrueMakesPrerequisitesRequired() {
        withCI("false") { XCTAssert(Prerequisites.missing("x", install: "y") is XCTSkip) }
        withCI("true") { XCTAssert(Prerequisites.missing("x", install: "y") is Prerequisites.Missing) }
    }
}
