import Foundation
import GenGraph
import XCTest

/// The engine core's acceptance test: the documented MLP example learns Fashion-MNIST.
final class MLPTrainingTests: XCTestCase {
    func testMLPReachesEightyPercentOnFashionMNIST() throws {
        _ = try Prerequisites.fashionMNIST()
        let result = try MLPClassifierExample.run(options: .init(), config: RunConfig(threads: 2))
        XCTAssertLessThan(result.epochLosses.last!, result.epochLosses.first! * 0.5, "loss should fall: \(result.epochLosses)")
        XCTAssertGreaterThan(result.testAccuracy, 0.80)
    }
}
