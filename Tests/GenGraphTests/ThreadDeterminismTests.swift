@testable import GenGraph
import XCTest

/// Training must not depend on the thread count, odd ones included: every kernel sums in an
/// order fixed by the shapes alone (fixed chunks combined in index order, whole output
/// elements per thread), never by how the work is divided among threads.
final class ThreadDeterminismTests: XCTestCase {
    /// The losses of two fused training steps, then every parameter, as bits.
    private func trainedBits(_ name: String, batch: Int, threads: Int) throws -> [UInt32] {
        let model = try Zoo.model(named: name)!.instantiate(batch: batch)
        let trainer = try Trainer(model: model, config: RunConfig(threads: threads, seed: 5, mode: .fused))
        var k: UInt64 = 0
        var bits: [UInt32] = []
        for _ in 0..<2 {
            bits += try trainer.step { k += 1; return FusedEagerTests.batch(model, seed: k) }.map(\.loss.bitPattern)
        }
        let parameters = trainer.session.parameters
        for n in parameters.names { bits += parameters.value(n)!.scalars.map(\.bitPattern) }
        return bits
    }

    private func assertSameOnOneTwoAndThreeThreads(_ name: String, batch: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let one = try trainedBits(name, batch: batch, threads: 1)
        for threads in [2, 3] {
            let other = try trainedBits(name, batch: batch, threads: threads)
            XCTAssertEqual(other.count, one.count, "\(name) batch \(batch)", file: file, line: line)
            let first = one.indices.first { $0 < other.count && one[$0] != other[$0] }
            XCTAssertNil(first, "\(name) batch \(batch): 1 and \(threads) threads differ first at value \(first ?? -1)",
                         file: file, line: line)
        }
    }

    /// Every zoo model at a small batch: the layers are still big enough that GEMMs,
    /// convolutions and fused kernels split their work.
    func testEveryZooModelTrainsBitIdenticallyOnOneTwoAndThreeThreads() throws {
        for definition in Zoo.models {
            try assertSameOnOneTwoAndThreeThreads(definition.name, batch: 4)
        }
    }

    /// Batches large enough that row-parallel reductions, per-thread images and bwd_filter
    /// chunks come into play.
    func testLargerBatchesTrainBitIdenticallyOnOneTwoAndThreeThreads() throws {
        for (name, batch) in [("vae", 128), ("dcgan", 16), ("pixelcnn", 8), ("realnvp", 8)] {
            try assertSameOnOneTwoAndThreeThreads(name, batch: batch)
        }
    }
}
