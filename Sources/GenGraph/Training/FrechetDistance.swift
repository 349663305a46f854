import Foundation

/// The mean and covariance of a set of feature vectors: what the Fréchet
/// distance compares (the Gaussian fitted to each set).
public struct FeatureStatistics: Sendable {
    public let dimension: Int
    public let count: Int
    public let mean: [Double]
    /// Row-major, dimension x dimension, unbiased (divided by count - 1, as numpy's `cov`).
    public let covariance: [Double]

    /// From `count` feature vectors of `dimension` values each, row after row.
    public init(features: [Float], dimension: Int) throws {
        guard dimension > 0, features.count % dimension == 0 else {
            throw GraphError(op: "frechet", "\(features.count) values are not whole vectors of \(dimension)")
        }
        let n = features.count / dimension
        guard n >= 2 else { throw GraphError(op: "frechet", "a covariance needs at least 2 vectors, got \(n)") }
        var mean = [Double](repeating: 0, count: dimension)
        for r in 0..<n {
            for j in 0..<dimension { mean[j] += Double(features[r * dimension + j]) }
        }
        for j in 0..<dimension { mean[j] /= Double(n) }
        // Accumulate the upper triangle of the centred scatter matrix, then mirror it.
        var covariance = [Double](repeating: 0, count: dimension * dimension)
        var centred = [Double](repeating: 0, count: dimension)
        for r in 0..<n {
            for j in 0..<dimension { centred[j] = Double(features[r * dimension + j]) - mean[j] }
            for i in 0..<dimension where centred[i] != 0 {
                let ci = centred[i]
                for j in i..<dimension { covariance[i * dimension + j] += ci * centred[j] }
            }
        }
        for i in 0..<dimension {
            for j in i..<dimension {
                let v = covariance[i * dimension + j] / Double(n - 1)
                covariance[i * dimension + j] = v
                covariance[j * dimension + i] = v
            }
        }
        self.init(dimension: dimension, count: n, mean: mean, covariance: covariance)
    }

    public init(dimension: Int, count: Int, mean: [Double], covariance: [Double]) {
        precondition(mean.count == dimension && covariance.count == dimension * dimension)
        self.dimension = dimension
        self.count = count
        self.mean = mean
        self.covariance = covariance
    }
}

/// The Fréchet (2-Wasserstein) distance between the Gaussians fitted to two
/// feature sets, as FID computes it:
/// |m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).
/// tr((S1 S2)^(1/2)) is the sum of square roots of the eigenvalues of the
/// symmetric S1^(1/2) S2 S1^(1/2), which has the same spectrum; symmetric
/// eigen-decompositions keep it real and stable even when a covariance is
/// singular (a feature that never fires).
public func frechetDistance(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
    guard a.dimension == b.dimension else {
        throw GraphError(op: "frechet", "feature dimensions differ: \(a.dimension) and \(b.dimension)")
    }
    let n = a.dimension
    var meanTerm = 0.0, traces = 0.0
    for j in 0..<n {
        let d = a.mean[j] - b.mean[j]
        meanTerm += d * d
        traces += a.covariance[j * n + j] + b.covariance[j * n + j]
    }
    let (values, vectors) = symmetricEigen(a.covariance, n)
    // S1^(1/2) = V diag(sqrt(max(l, 0))) V^T.
    var root = [Double](repeating: 0, count: n * n)
    for k in 0..<n where values[k] > 0 {
        let s = values[k].squareRoot()
        for i in 0..<n {
            let vik = vectors[i * n + k] * s
            if vik == 0 { continue }
            for j in 0..<n { root[i * n + j] += vik * vectors[j * n + k] }
        }
    }
    let product = multiply(multiply(root, b.covariance, n), root, n)
    var symmetric = product
    for i in 0..<n {
        for j in 0..<n { symmetric[i * n + j] = 0.5 * (product[i * n + j] + product[j * n + i]) }
    }
    let crossTrace = symmetricEigen(symmetric, n).values.reduce(0) { $0 + max($1, 0).squareRoot() }
    return max(meanTerm + traces - 2 * crossTrace, 0)
}

private func multiply(_ x: [Double], _ y: [Double], _ n: Int) -> [Double] {
    var z = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for k in 0..<n {
            let xik = x[i * n + k]
            if xik == 0 { continue }
            for j in 0..<n { z[i * n + j] += xik * y[k * n + j] }
        }
    }
    return z
}

/// Eigenvalues and eigenvectors (columns of `vectors`, row-major n x n) of a
/// symmetric matrix by cyclic Jacobi rotations: slow for large n but simple,
/// accurate to rounding, and ample for the 128 x 128 feature covariances.
func symmetricEigen(_ matrix: [Double], _ n: Int) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    let scale = a.reduce(0) { $0 + $1 * $1 }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n {
            for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] }
        }
        if off <= 1e-30 * scale || off == 0 { break }
        for p in 0..<n {
            for q in (p + 1)..<n {
                let apq = a[p * n + q]
                if apq == 0 { continue }
                // The rotation that zeroes a[p][q] (Golub & Van Loan, the symmetric Schur step).
                let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
                for k in 0..<n {
                    let vkp = v[k * n + p], vkq = v[k * n + q]
                    v[k * n + p] = c * vkp - s * vkq
                    v[k * n + q] = s * vkp + c * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0 * n + $0] }, v)
}
