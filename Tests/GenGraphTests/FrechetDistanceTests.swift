import Foundation
import XCTest
@testable import GenGraph

/// FD-FMNIST's arithmetic against closed forms.
final class FrechetDistanceTests: XCTestCase {
    private func statistics(mean: [Double], covariance: [Double]) -> FeatureStatistics {
        FeatureStatistics(dimension: mean.count, count: 100, mean: mean, covariance: covariance)
    }

    func testJacobiRebuildsTheMatrixFromItsEigenpairs() {
        let n = 17
        var generator = SplitMix(seed: 3)
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                let v = generator.uniform() * 2 - 1
                m[i * n + j] = v
                m[j * n + i] = v
            }
        }
        let (values, vectors) = symmetricEigen(m, n)
        for i in 0..<n {
            for j in 0..<n {
                let rebuilt = (0..<n).reduce(0.0) { $0 + vectors[i * n + $1] * values[$1] * vectors[j * n + $1] }
                XCTAssertEqual(rebuilt, m[i * n + j], accuracy: 1e-10)
                let gram = (0..<n).reduce(0.0) { $0 + vectors[$1 * n + i] * vectors[$1 * n + j] }
                XCTAssertEqual(gram, i == j ? 1 : 0, accuracy: 1e-10, "eigenvectors are orthonormal")
            }
        }
    }

    func testIdenticalGaussiansAreAtDistanceZero() throws {
        let s = statistics(mean: [1, -2, 0.5], covariance: [2, 0.3, 0.1, 0.3, 1, -0.2, 0.1, -0.2, 0.5])
        XCTAssertEqual(try frechetDistance(s, s), 0, accuracy: 1e-10)
    }

    /// Diagonal covariances: the distance separates into sum (m1 - m2)^2 + (sd1 - sd2)^2.
    func testDiagonalCovariancesMatchTheOneDimensionalFormula() throws {
        let a = statistics(mean: [0, 1, 2], covariance: [4, 0, 0, 0, 1, 0, 0, 0, 0])
        let b = statistics(mean: [1, 1, 0], covariance: [1, 0, 0, 0, 9, 0, 0, 0, 0.25])
        let expected = (1.0 + 0 + 4) + ((2.0 - 1) * (2 - 1) + (1.0 - 3) * (1 - 3) + (0 - 0.5) * (0 - 0.5))
        XCTAssertEqual(try frechetDistance(a, b), expected, accuracy: 1e-10)
    }

    /// For 2 x 2 matrices tr((S1 S2)^(1/2)) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)).
    func testCorrelatedTwoByTwoMatchesTheClosedForm() throws {
        let s1 = [2.0, 0.8, 0.8, 1.0], s2 = [0.5, -0.3, -0.3, 1.5]
        let a = statistics(mean: [0.5, 0], covariance: s1), b = statistics(mean: [0, 0.25], covariance: s2)
        let trProduct = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3]
        let det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2]
        let cross = (trProduct + 2 * (det1 * det2).squareRoot()).squareRoot()
        let expected = 0.25 + 0.0625 + (s1[0] + s1[3] + s2[0] + s2[3]) - 2 * cross
        XCTAssertEqual(try frechetDistance(a, b), expected, accuracy: 1e-10)
    }

    /// A feature that never fires (zero variance) makes a covariance singular; the distance stays finite.
    func testSingularCovarianceIsHandled() throws {
        let a = statistics(mean: [0, 0], covariance: [1, 0, 0, 0])
        let b = statistics(mean: [0, 0], covariance: [4, 0, 0, 1])
        XCTAssertEqual(try frechetDistance(a, b), 1 + 1, accuracy: 1e-10)
    }

    func testStatisticsAreTheSampleMeanAndUnbiasedCovariance() throws {
        // Three vectors of two features.
        let s = try FeatureStatistics(features: [1, 2, 3, 6, 5, 4], dimension: 2)
        XCTAssertEqual(s.mean, [3, 4])
        XCTAssertEqual(s.covariance, [4, 2, 2, 4])
        XCTAssertThrowsError(try FeatureStatistics(features: [1, 2, 3], dimension: 2))
        XCTAssertThrowsError(try FeatureStatistics(features: [1, 2], dimension: 2))
    }
}

/// A small deterministic generator for test matrices.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
