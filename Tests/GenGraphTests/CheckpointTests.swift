import Foundation
@testable import GenGraph
import XCTest

/// Safetensors checkpoints: bit-exact round trips, every way a file can be
/// broken, atomic replacement, resumable optimiser state, and PyTorch reading them.
final class CheckpointTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        chmod(directory.path, 0o755)
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: helpers

    /// A zoo model at batch 2 with its parameters initialised from `seed`.
    private func instance(_ name: String, seed: UInt64 = 0) throws -> (model: Model, session: Session) {
        let model = try Zoo.model(named: name)!.instantiate(batch: 2)
        return (model, try Session(graph: model.graph, config: RunConfig(threads: 1, seed: seed)))
    }

    /// Every value of the graph's tensors as bit patterns, so NaNs and signed zeros compare exactly.
    private func bits(_ store: ParameterStore, _ graph: Graph) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: Checkpoint.tensorNames(of: graph).map { ($0, store.value($0)!.scalars.map(\.bitPattern)) })
    }

    private func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    private func savedVAE(_ name: String = "vae.safetensors") throws -> (url: URL, model: Model, session: Session) {
        let (model, session) = try instance("vae", seed: 7)
        let u = url(name)
        try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "vae", step: 3, seed: 7), to: u)
        return (u, model, session)
    }

    /// A safetensors file written byte by byte, independently of the writer under test.
    private func rawFile(_ header: String, data: [UInt8], name: String = "raw.safetensors") throws -> URL {
        let h = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init)
        bytes += h + data
        let u = url(name)
        try Data(bytes).write(to: u)
        return u
    }

    private func assertProblem<T>(_ expression: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                                  _ matches: (CheckpointError.Problem) -> Bool) {
        do {
            _ = try expression()
            XCTFail("no error thrown", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssert(matches(error.problem), "unexpected problem: \(error)", file: file, line: line)
            XCTAssert(error.description.hasPrefix("checkpoint \(error.file): "), file: file, line: line)
        } catch {
            XCTFail("not a CheckpointError: \(error)", file: file, line: line)
        }
    }

    // MARK: round trips

    func testVAERoundTripIsBitExactAndInDeclarationOrder() throws {
        let (u, model, session) = try savedVAE()
        let names = ["enc.weight", "enc.bias", "mu.weight", "mu.bias", "logvar.weight", "logvar.bias",
                     "dec1.weight", "dec1.bias", "dec2.weight", "dec2.bias"]
        XCTAssertEqual(Checkpoint.tensorNames(of: model.graph), names)

        let file = try SafeTensors(contentsOf: u)
        XCTAssertEqual(file.entries.map(\.name), names)
        XCTAssertEqual(file["enc.weight"]?.shape, [400, 784])
        XCTAssertEqual(file.metadata["model"], "vae")
        XCTAssertEqual(file.metadata["step"], "3")

        // The header is padded with spaces so the data starts on an 8-byte boundary.
        let bytes = try Data(contentsOf: u)
        let headerLength = bytes.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssert(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        XCTAssertEqual(bytes.count, 8 + headerLength + 4 * names.map { file[$0]!.shape.count }.reduce(0, +))

        // Into a store initialised differently, and into an empty one.
        let (other, otherSession) = try instance("vae", seed: 99)
        XCTAssertNotEqual(bits(otherSession.parameters, other.graph), bits(session.parameters, model.graph))
        let metadata = try Checkpoint.load(from: u, into: otherSession.parameters, of: other.graph, model: "vae")
        XCTAssertEqual(metadata, CheckpointMetadata(model: "vae", step: 3, seed: 7, mode: .eager))
        XCTAssertEqual(bits(otherSession.parameters, other.graph), bits(session.parameters, model.graph))
        let empty = ParameterStore()
        try Checkpoint.load(from: u, into: empty, of: other.graph, model: "vae")
        XCTAssertEqual(bits(empty, other.graph), bits(session.parameters, model.graph))
    }

    func testBatchNormStateIsSavedBesideItsParametersWithExtraMetadata() throws {
        let (model, session) = try instance("dcgan", seed: 1)
        let names = Checkpoint.tensorNames(of: model.graph)
        let bn = names.firstIndex(of: "G.bn0.weight")!
        XCTAssertEqual(Array(names[bn..<(bn + 4)]), ["G.bn0.weight", "G.bn0.bias", "G.bn0.running_mean", "G.bn0.running_var"])
        XCTAssert(names.contains("D.bn.running_var"))
        // Non-trivial running statistics, so the round trip shows state is really carried.
        try session.parameters.set("G.bn0.running_var", TensorValue(shape: [6272], scalars: (0..<6272).map { Float($0) * 0.5 }))

        let u = url("dcgan.safetensors")
        let metadata = CheckpointMetadata(model: "dcgan", step: 41, seed: 1, mode: .fused, extra: ["batch": "2"])
        try Checkpoint.save(session.parameters, of: model.graph, metadata: metadata, to: u)
        let (fresh, freshSession) = try instance("dcgan", seed: 2)
        XCTAssertEqual(try Checkpoint.load(from: u, into: freshSession.parameters, of: fresh.graph, model: "dcgan"), metadata)
        XCTAssertEqual(bits(freshSession.parameters, fresh.graph), bits(session.parameters, model.graph))

        let reserved = CheckpointMetadata(model: "dcgan", step: 0, extra: ["model": "vae"])
        assertProblem(try Checkpoint.save(session.parameters, of: model.graph, metadata: reserved, to: url("x.safetensors"))) {
            if case .unwritable(let m) = $0 { return m.contains("'model' is reserved") }
            return false
        }
    }

    func testSafeTensorsRoundTripKeepsOrderEscapesAndSpecialValues() throws {
        let special: [Float] = [.nan, -.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let entries = try [
            SafeTensors.Entry(name: "z \"quoted\" \\ name\n", value: TensorValue(shape: [7], scalars: special)),
            SafeTensors.Entry(name: "a.scalar", value: TensorValue(shape: [], scalars: [42])),
            SafeTensors.Entry(name: "m.empty", value: TensorValue(shape: [0, 3], scalars: [])),
            SafeTensors.Entry(name: "b.ünïcode", value: TensorValue(shape: [2, 1], scalars: [1, 2])),
        ]
        let u = url("special.safetensors")
        try SafeTensors(entries: entries, metadata: ["note": "tab\there \"q\"", "ünï": "cödé"]).write(to: u)
        let back = try SafeTensors(contentsOf: u)
        XCTAssertEqual(back.entries.map(\.name), entries.map(\.name))
        XCTAssertEqual(back.metadata, ["note": "tab\there \"q\"", "ünï": "cödé"])
        for (a, b) in zip(back.entries, entries) {
            XCTAssertEqual(a.value.shape, b.value.shape)
            XCTAssertEqual(a.value.scalars.map(\.bitPattern), b.value.scalars.map(\.bitPattern))
        }
        assertProblem(try SafeTensors(entries: [entries[1], entries[1]]).write(to: u)) {
            if case .unwritable(let m) = $0 { return m.contains("two tensors named 'a.scalar'") }
            return false
        }
    }

    // MARK: broken files

    func testTruncatedFilesAreReportedAtEveryCut() throws {
        let (u, model, session) = try savedVAE()
        let bytes = try Data(contentsOf: u)
        let headerLength = bytes.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        for cut in [0, 5, 8, 8 + headerLength / 2, 8 + headerLength, 8 + headerLength + 1000, bytes.count - 1] {
            let t = url("cut-\(cut).safetensors")
            try bytes.prefix(cut).write(to: t)
            assertProblem(try SafeTensors(contentsOf: t)) { if case .truncated = $0 { return true }; return false }
            assertProblem(try Checkpoint.load(from: t, into: session.parameters, of: model.graph, model: "vae")) {
                if case .truncated = $0 { return true }; return false
            }
        }
        assertProblem(try SafeTensors(contentsOf: url("absent.safetensors"))) { if case .unreadable = $0 { return true }; return false }
    }

    func testCorruptHeadersAreReported() throws {
        let data = [UInt8](repeating: 0, count: 8)
        let headers = [
            "{\"w\": {\"dtype\": ",                                                           // cut-off JSON
            "[1, 2]   ",                                                                      // not an object
            "{\"w\": {\"dtype\": \"F32\", \"shape\": \"2\", \"data_offsets\": [0, 8]}}",      // shape not a list
            "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}",                                  // no data_offsets
            "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}",      // fractional dimension
            "{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}",       // negative dimension
            "{\"__metadata__\": {\"step\": 3}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
            "",
        ]
        for (i, header) in headers.enumerated() {
            let u = try rawFile(header, data: data, name: "corrupt-\(i).safetensors")
            assertProblem(try SafeTensors(contentsOf: u)) { if case .corruptHeader = $0 { return true }; return false }
        }
    }

    func testUnsupportedDTypeIsNamed() throws {
        let u = try rawFile("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", data: .init(repeating: 0, count: 16))
        assertProblem(try SafeTensors(contentsOf: u)) { $0 == .unsupportedDType(tensor: "w", dtype: "F64") }
        do { _ = try SafeTensors(contentsOf: u) } catch { XCTAssert("\(error)".contains("F64")) }
    }

    func testOffsetsThatOverlapLeaveGapsOrMissDataAreReported() throws {
        func entry(_ name: String, _ n: Int, _ begin: Int, _ end: Int) -> String {
            "\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(n)],\"data_offsets\":[\(begin),\(end)]}"
        }
        let cases: [(String, Int)] = [
            ("{\(entry("a", 2, 0, 8)),\(entry("b", 2, 4, 12))}", 12),   // overlap
            ("{\(entry("a", 2, 0, 8)),\(entry("b", 2, 12, 20))}", 20),  // gap
            ("{\(entry("a", 2, 4, 12))}", 12),                         // gap before the first
            ("{\(entry("a", 2, 0, 8))}", 16),                          // trailing data not covered
            ("{\(entry("a", 0, 8, 0))}", 8),                           // begin after end
        ]
        for (i, (header, size)) in cases.enumerated() {
            let u = try rawFile(header, data: .init(repeating: 0, count: size), name: "offsets-\(i).safetensors")
            assertProblem(try SafeTensors(contentsOf: u)) { if case .badOffsets = $0 { return true }; return false }
        }
        let mismatch = try rawFile("{\(entry("w", 3, 0, 8))}", data: .init(repeating: 0, count: 8))
        assertProblem(try SafeTensors(contentsOf: mismatch)) { $0 == .sizeMismatch(tensor: "w", shape: [3], bytes: 8) }
    }

    /// Rewrites the VAE checkpoint at `u` with `edit` applied to its entries.
    private func rewrite(_ u: URL, _ edit: (inout [SafeTensors.Entry]) throws -> Void) throws {
        var file = try SafeTensors(contentsOf: u)
        try edit(&file.entries)
        try file.write(to: u)
    }

    func testWrongShapeNamesTheTensorAndLeavesTheStoreUnchanged() throws {
        let (u, model, session) = try savedVAE()
        try rewrite(u) { entries in
            entries[0] = try SafeTensors.Entry(name: "enc.weight", value: TensorValue(shape: [400, 794], scalars: .init(repeating: 0, count: 400 * 794)))
        }
        let (other, otherSession) = try instance("vae", seed: 5)
        let before = bits(otherSession.parameters, other.graph)
        assertProblem(try Checkpoint.load(from: u, into: otherSession.parameters, of: other.graph, model: "vae")) {
            $0 == .shapeMismatch(tensor: "enc.weight", found: [400, 794], expected: [400, 784])
        }
        XCTAssertEqual(bits(otherSession.parameters, other.graph), before)
        do { try Checkpoint.load(from: u, into: session.parameters, of: model.graph, model: "vae") } catch {
            XCTAssertEqual("\(error)", "checkpoint \(u.path): tensor 'enc.weight' has shape [400, 794], model expects [400, 784]")
        }
    }

    func testMissingAndUnexpectedTensorsAreListedByName() throws {
        let (u, model, session) = try savedVAE()
        try rewrite(u) { $0.removeAll { $0.name == "mu.bias" } }
        assertProblem(try Checkpoint.load(from: u, into: session.parameters, of: model.graph, model: "vae")) {
            $0 == .tensorNames(missing: ["mu.bias"], unexpected: [])
        }
        try rewrite(u) { $0.append(.init(name: "extra.weight", value: try TensorValue(shape: [1], scalars: [1]))) }
        assertProblem(try Checkpoint.load(from: u, into: session.parameters, of: model.graph, model: "vae")) {
            $0 == .tensorNames(missing: ["mu.bias"], unexpected: ["extra.weight"])
        }
    }

    func testAnotherModelsCheckpointIsRefused() throws {
        let (vae, vaeSession) = try instance("vae")
        let (gan, ganSession) = try instance("gan")
        let u = url("gan.safetensors")
        try Checkpoint.save(ganSession.parameters, of: gan.graph, metadata: CheckpointMetadata(model: "gan", step: 0), to: u)
        assertProblem(try Checkpoint.load(from: u, into: vaeSession.parameters, of: vae.graph, model: "vae")) {
            $0 == .wrongModel(found: "gan", expected: "vae")
        }
        // ae and dae have identical tensors: only the metadata tells them apart.
        let (ae, aeSession) = try instance("ae")
        let (dae, daeSession) = try instance("dae")
        try Checkpoint.save(aeSession.parameters, of: ae.graph, metadata: CheckpointMetadata(model: "ae", step: 0), to: u)
        assertProblem(try Checkpoint.load(from: u, into: daeSession.parameters, of: dae.graph, model: "dae")) {
            $0 == .wrongModel(found: "ae", expected: "dae")
        }
    }

    func testFilesThatAreNotParameterCheckpointsAreRefused() throws {
        let (u, model, session) = try savedVAE()
        func refused(_ edit: (inout [String: String]) -> Void) throws {
            var file = try SafeTensors(contentsOf: u)
            edit(&file.metadata)
            let v = url("edited.safetensors")
            try file.write(to: v)
            assertProblem(try Checkpoint.load(from: v, into: session.parameters, of: model.graph, model: "vae")) {
                if case .notACheckpoint = $0 { return true }; return false
            }
        }
        try refused { $0 = [:] }                          // a plain safetensors file
        try refused { $0["format_version"] = "2" }        // from a newer gengraph
        try refused { $0["kind"] = "optimizer" }
        try refused { $0["step"] = "many" }
        try refused { $0["mode"] = "jit" }
    }

    /// Numbers in a safetensors header that are too large for the file, for an Int, or for a product
    /// of extents are reported as problems of the file, never trapped on or allocated for.
    func testHeaderNumbersThatOverflowAreReported() throws {
        func isTruncated(_ p: CheckpointError.Problem) -> Bool { if case .truncated = p { return true }; return false }
        func isCorrupt(_ p: CheckpointError.Problem) -> Bool { if case .corruptHeader = p { return true }; return false }
        for length in [UInt64(1) << 63, UInt64.max, UInt64(Int.max) + 1] {
            let u = url("length-\(length).safetensors")
            try Data(withUnsafeBytes(of: length.littleEndian, Array.init) + Array("{}".utf8)).write(to: u)
            assertProblem(try SafeTensors(contentsOf: u), isTruncated)
            assertProblem(try SafeTensors.metadata(contentsOf: u), isTruncated)
        }
        // Reading the metadata alone gives what reading the whole file gives.
        let (saved, _, _) = try savedVAE()
        XCTAssertEqual(try SafeTensors.metadata(contentsOf: saved), try SafeTensors(contentsOf: saved).metadata)
        func tensor(_ shape: String, _ offsets: String, data: Int = 8) throws -> URL {
            try rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}", data: .init(repeating: 0, count: data))
        }
        assertProblem(try SafeTensors(contentsOf: tensor("[1099511627776,1099511627776]", "[0,8]"))) {
            $0 == .sizeMismatch(tensor: "w", shape: [1 << 40, 1 << 40], bytes: 8)
        }
        assertProblem(try SafeTensors(contentsOf: tensor("[1099511627776,1099511627776,0]", "[0,0]", data: 0))) {
            if case .sizeMismatch(let name, _, 0) = $0 { return name == "w" }; return false
        }
        assertProblem(try SafeTensors(contentsOf: tensor("[4611686018427387904]", "[0,8]"))) {
            if case .sizeMismatch(let name, _, 8) = $0 { return name == "w" }; return false
        }
        assertProblem(try SafeTensors(contentsOf: tensor("[2]", "[0,4611686018427387904]")), isTruncated)
        assertProblem(try SafeTensors(contentsOf: tensor("[2]", "[9223372036854775807,9223372036854775807]"))) {
            $0 == .badOffsets("9223372036854775807 unused bytes before 'w'")
        }
        assertProblem(try SafeTensors(contentsOf: tensor("[2]", "[0,99999999999999999999]")), isCorrupt)
        assertProblem(try SafeTensors(contentsOf: tensor("[99999999999999999999]", "[0,8]")), isCorrupt)
        assertProblem(try SafeTensors(contentsOf: tensor("[2]", "[-8,0]"))) { if case .badOffsets = $0 { return true }; return false }
        // Nesting deep enough to exhaust a recursive parser's stack is refused as a corrupt header.
        let deep = try rawFile("{\"__metadata__\":" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}",
                               data: [], name: "deep.safetensors")
        assertProblem(try SafeTensors(contentsOf: deep), isCorrupt)
    }

    /// Step counts too large to continue from are refused by name, for parameters and optimisers alike.
    func testStepCountsThatCannotContinueAreRefused() throws {
        let (u, model, session) = try savedVAE()
        for step in ["99999999999999999999", "9223372036854775807", "-1"] {
            var file = try SafeTensors(contentsOf: u)
            file.metadata["step"] = step
            let v = url("step.safetensors")
            try file.write(to: v)
            assertProblem(try Checkpoint.load(from: v, into: session.parameters, of: model.graph, model: "vae")) {
                if case .notACheckpoint(let m) = $0 { return m.contains(step) }; return false
            }
        }
        let (ae, aeSession) = try instance("ae", seed: 3)
        let objective = ae.objectives[0]
        let training = try aeSession.minimize(objective.loss, over: objective.parameters, using: objective.rule)
        try aeSession.train(training, feeds: batch(0))
        let optimizers = [(objective: objective.name, optimizer: training.optimizer)]
        let o = url("optimizer.safetensors")
        try Checkpoint.saveOptimizers(optimizers, model: "ae", to: o)
        for step in ["9223372036854775807", "99999999999999999999"] {
            var file = try SafeTensors(contentsOf: o)
            file.metadata["\(objective.name).step"] = step
            try file.write(to: o)
            // Accepting Int.max would trap on the next update's step += 1.
            assertProblem(try Checkpoint.loadOptimizers(from: o, into: optimizers, model: "ae")) {
                if case .notACheckpoint(let m) = $0 { return m.contains(step) }; return false
            }
        }
        XCTAssertEqual(training.optimizer.step, 1)
    }

    // MARK: atomic writes

    func testSavingLeavesNoTemporaryFiles() throws {
        let (u, model, session) = try savedVAE()
        try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "vae", step: 4), to: u)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["vae.safetensors"])
        XCTAssertEqual(try SafeTensors(contentsOf: u).metadata["step"], "4")
    }

    func testAFailedWriteKeepsTheExistingFile() throws {
        let (u, model, session) = try savedVAE()
        let before = try Data(contentsOf: u)
        // A file-size limit makes the write fail halfway, like a full disk (and works for root, unlike permissions).
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        let ignored = signal(SIGXFSZ, SIG_IGN)
        var small = saved
        small.rlim_cur = 4096
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
        let metadata = CheckpointMetadata(model: "vae", step: 4)
        let result = Result { try Checkpoint.save(session.parameters, of: model.graph, metadata: metadata, to: u) }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        signal(SIGXFSZ, ignored)

        assertProblem(try result.get()) { if case .unwritable = $0 { return true }; return false }
        XCTAssertEqual(try Data(contentsOf: u), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["vae.safetensors"])
    }

    func testSavingIntoAMissingDirectoryFails() throws {
        let (model, session) = try instance("vae")
        let u = url("no/such/directory/vae.safetensors")
        assertProblem(try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "vae", step: 0), to: u)) {
            if case .unwritable = $0 { return true }; return false
        }
    }

    func testAReadOnlyDirectoryKeepsTheExistingFile() throws {
        guard geteuid() != 0 else { throw XCTSkip("root writes into read-only directories; testAFailedWriteKeepsTheExistingFile covers failed writes") }
        let (u, model, session) = try savedVAE()
        let before = try Data(contentsOf: u)
        chmod(directory.path, 0o555)
        assertProblem(try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "vae", step: 4), to: u)) {
            if case .unwritable = $0 { return true }; return false
        }
        XCTAssertEqual(try Data(contentsOf: u), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["vae.safetensors"])
    }

    // MARK: optimiser state

    /// Deterministic images in [0, 1].
    private func batch(_ k: Int) throws -> [String: TensorValue] {
        var state = UInt32(truncatingIfNeeded: 2_654_435_761 &* (k + 1))
        let values = (0..<(2 * 784)).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24)
        }
        return ["x": try TensorValue(shape: [2, 1, 28, 28], scalars: values)]
    }

    func testResumedOptimizerContinuesBitForBit() throws {
        // ae has no noise in its graph, so the step after resuming sees exactly the same inputs.
        for rule in [OptimizerRule.adam(learningRate: 1e-3), .rmsprop(learningRate: 1e-3), .sgd(learningRate: 0.1, momentum: 0.9)] {
            let (model, session) = try instance("ae", seed: 3)
            let objective = model.objectives[0]
            let step = try session.minimize(objective.loss, over: objective.parameters, using: rule)
            try session.train(step, feeds: batch(0))
            try session.train(step, feeds: batch(1))
            let parameters = url("ae.safetensors"), optimizer = url("optimizer.safetensors")
            try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "ae", step: 2, seed: 3), to: parameters)
            try Checkpoint.saveOptimizers([(objective.name, step.optimizer)], model: "ae", to: optimizer)
            try session.train(step, feeds: batch(2))

            let (resumed, resumedSession) = try instance("ae", seed: 11)
            let resumedObjective = resumed.objectives[0]
            let resumedStep = try resumedSession.minimize(resumedObjective.loss, over: resumedObjective.parameters, using: rule)
            try Checkpoint.load(from: parameters, into: resumedSession.parameters, of: resumed.graph, model: "ae")
            try Checkpoint.loadOptimizers(from: optimizer, into: [(resumedObjective.name, resumedStep.optimizer)], model: "ae")
            XCTAssertEqual(resumedStep.optimizer.step, 2)
            try resumedSession.train(resumedStep, feeds: batch(2))
            XCTAssert(bits(resumedSession.parameters, resumed.graph) == bits(session.parameters, model.graph), "\(rule) diverged")
        }
    }

    func testOptimizerStateErrors() throws {
        let (model, session) = try instance("gan")
        let objectives = model.objectives
        let steps = try objectives.map { try session.minimize($0.loss, over: $0.parameters, using: $0.rule) }
        let optimizers = zip(objectives, steps).map { (objective: $0.name, optimizer: $1.optimizer) }
        let u = url("optimizer.safetensors")

        // Before any update there is no slot to save, only the step counts.
        try Checkpoint.saveOptimizers(optimizers, model: "gan", to: u)
        XCTAssertEqual(try SafeTensors(contentsOf: u).entries.count, 0)
        try Checkpoint.loadOptimizers(from: u, into: optimizers, model: "gan")

        let noise = try TensorValue(shape: [2, 1, 28, 28], scalars: (0..<1568).map { Float($0 % 7) / 3 - 1 })
        try session.train(steps[0], feeds: ["x": noise])
        try Checkpoint.saveOptimizers(optimizers, model: "gan", to: u)
        let names = try SafeTensors(contentsOf: u).entries.map(\.name)
        XCTAssertEqual(names.first, "d_loss.D.l1.weight.exp_avg")
        XCTAssertEqual(names.count, 6 * 2, "only the discriminator has been updated")

        assertProblem(try Checkpoint.loadOptimizers(from: u, into: optimizers, model: "cgan")) { $0 == .wrongModel(found: "gan", expected: "cgan") }
        assertProblem(try Checkpoint.loadOptimizers(from: u, into: [optimizers[0]], model: "gan")) {
            $0 == .objectives(missing: [], unexpected: ["g_loss"])
        }
        let sgd = Optimizer(.sgd(learningRate: 1), parameters: optimizers[0].optimizer.parameters)
        assertProblem(try Checkpoint.loadOptimizers(from: u, into: [("d_loss", sgd), optimizers[1]], model: "gan")) {
            $0 == .ruleMismatch(objective: "d_loss", found: "adam", expected: "sgd")
        }
        // The generator's optimiser claims an update, so its slots must be in the file.
        var file = try SafeTensors(contentsOf: u)
        file.metadata["g_loss.step"] = "1"
        try file.write(to: u)
        assertProblem(try Checkpoint.loadOptimizers(from: u, into: optimizers, model: "gan")) {
            if case .tensorNames(let missing, let unexpected) = $0 { return missing.count == 6 * 2 && unexpected.isEmpty }
            return false
        }
        XCTAssertEqual(optimizers[1].optimizer.step, 0, "a failed load changes nothing")
        // Parameter checkpoints are not optimiser state.
        try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "gan", step: 1), to: u)
        assertProblem(try Checkpoint.loadOptimizers(from: u, into: optimizers, model: "gan")) {
            if case .notACheckpoint = $0 { return true }; return false
        }
    }

    // MARK: PyTorch's buffers

    func testBatchCountsAndMasksAreWrittenAsPyTorchBuffers() throws {
        let (dcgan, dcganSession) = try instance("dcgan", seed: 1)
        let step = try dcganSession.minimize(dcgan.objectives[0].loss, over: dcgan.objectives[0].parameters, using: .adam(learningRate: 1e-3))
        let noise = try TensorValue(shape: [2, 1, 28, 28], scalars: (0..<1568).map { Float($0 % 5) / 2 - 1 })
        for _ in 0..<3 { try dcganSession.train(step, feeds: ["x": noise]) }
        let u = url("dcgan.safetensors")
        try Checkpoint.save(dcganSession.parameters, of: dcgan.graph, metadata: CheckpointMetadata(model: "dcgan", step: 3), to: u)
        let file = try SafeTensors(contentsOf: u)
        let names = file.entries.map(\.name)
        let bn = names.firstIndex(of: "D.bn.weight")!
        XCTAssertEqual(Array(names[bn..<(bn + 5)]), ["D.bn.weight", "D.bn.bias", "D.bn.running_mean", "D.bn.running_var", "D.bn.num_batches_tracked"])
        let counter = try XCTUnwrap(file.entries.first { $0.name == "D.bn.num_batches_tracked" })
        XCTAssertEqual(counter.dtype, .i64)
        XCTAssertEqual(counter.value.shape, [])
        XCTAssertEqual(counter.integers, [3], "one running-statistics update per training step")
        XCTAssertEqual(file.entries.first { $0.name == "G.bn0.num_batches_tracked" }?.integers, [3], "the discriminator's loss runs the generator too")

        // The counts come back on loading, and a file without them (an older checkpoint) loads with counts of 0.
        let (fresh, freshSession) = try instance("dcgan", seed: 2)
        try Checkpoint.load(from: u, into: freshSession.parameters, of: fresh.graph, model: "dcgan")
        XCTAssertEqual(freshSession.parameters.updateCounts["D.bn.running_mean"], 3)
        XCTAssertEqual(bits(freshSession.parameters, fresh.graph), bits(dcganSession.parameters, dcgan.graph))
        try rewrite(u) { $0.removeAll { $0.name.hasSuffix("num_batches_tracked") } }
        try Checkpoint.load(from: u, into: freshSession.parameters, of: fresh.graph, model: "dcgan")
        XCTAssertEqual(freshSession.parameters.updateCounts["D.bn.running_mean"], 0)

        // PixelCNN's masks follow each masked convolution's bias, as in its state_dict.
        let (pixelcnn, pixelSession) = try instance("pixelcnn")
        let p = url("pixelcnn.safetensors")
        try Checkpoint.save(pixelSession.parameters, of: pixelcnn.graph, metadata: CheckpointMetadata(model: "pixelcnn", step: 0), to: p)
        let masks = try SafeTensors(contentsOf: p)
        XCTAssertEqual(Array(masks.entries.map(\.name).prefix(4)), ["layers.0.weight", "layers.0.bias", "layers.0.mask", "layers.1.weight"])
        XCTAssertEqual(masks.entries.filter { $0.name.hasSuffix(".mask") }.count, 6)
        let typeA = try XCTUnwrap(masks["layers.0.mask"]), typeB = try XCTUnwrap(masks["layers.1.mask"])
        XCTAssertEqual(typeA.shape, [32, 1, 7, 7])
        XCTAssertEqual(Array(typeA.scalars[21..<28]), [1, 1, 1, 0, 0, 0, 0], "type A hides the centre of row 3")
        XCTAssertEqual(Array(typeB.scalars[3..<6]), [1, 1, 0], "type B shows it")
        XCTAssertEqual(masks["layers.5.mask"]?.scalars.first, 1)
    }

    func testWrongBuffersAreRefused() throws {
        let (model, session) = try instance("pixelcnn")
        let u = url("pixelcnn.safetensors")
        try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: "pixelcnn", step: 0), to: u)
        let saved = try Data(contentsOf: u)
        try rewrite(u) { entries in
            let i = entries.firstIndex { $0.name == "layers.1.mask" }!
            entries[i] = .init(name: "layers.1.mask", value: try TensorValue(shape: [32, 32, 3, 3], scalars: .init(repeating: 1, count: 9216)))
        }
        assertProblem(try Checkpoint.load(from: u, into: session.parameters, of: model.graph, model: "pixelcnn")) {
            $0 == .badValue(tensor: "layers.1.mask", reason: "is not the model's type B mask")
        }
        try saved.write(to: u)
        try rewrite(u) { entries in
            let i = entries.firstIndex { $0.name == "layers.0.weight" }!
            entries[i] = try .init(name: "layers.0.weight", shape: [32, 1, 7, 7], integers: .init(repeating: 0, count: 1568))
        }
        assertProblem(try Checkpoint.load(from: u, into: session.parameters, of: model.graph, model: "pixelcnn")) {
            $0 == .wrongDType(tensor: "layers.0.weight", found: "I64", expected: "F32")
        }

        let (dcgan, dcganSession) = try instance("dcgan")
        let d = url("dcgan.safetensors")
        try Checkpoint.save(dcganSession.parameters, of: dcgan.graph, metadata: CheckpointMetadata(model: "dcgan", step: 0), to: d)
        let counter = "G.bn1.num_batches_tracked"
        for (replacement, problem) in [
            (SafeTensors.Entry(name: counter, value: try TensorValue(shape: [], scalars: [2])), CheckpointError.Problem.wrongDType(tensor: counter, found: "F32", expected: "I64")),
            (try SafeTensors.Entry(name: counter, shape: [], integers: [-1]), .badValue(tensor: counter, reason: "holds the negative batch count -1")),
            (try SafeTensors.Entry(name: counter, shape: [1], integers: [1]), .shapeMismatch(tensor: counter, found: [1], expected: [])),
        ] {
            try rewrite(d) { entries in entries[entries.firstIndex { $0.name == counter }!] = replacement }
            let before = bits(dcganSession.parameters, dcgan.graph)
            assertProblem(try Checkpoint.load(from: d, into: dcganSession.parameters, of: dcgan.graph, model: "dcgan")) { $0 == problem }
            XCTAssertEqual(bits(dcganSession.parameters, dcgan.graph), before)
        }
    }

    func testInt64TensorsRoundTripExactly() throws {
        let values: [Int64] = [0, 1, 16_777_217, -5, .max, .min]
        let u = url("int.safetensors")
        try SafeTensors(entries: [
            SafeTensors.Entry(name: "odd", value: try TensorValue(shape: [1], scalars: [0.5])),
            try SafeTensors.Entry(name: "counts", shape: [2, 3], integers: values),
        ]).write(to: u)
        let back = try SafeTensors(contentsOf: u)
        XCTAssertEqual(back.entries.map(\.dtype), [.f32, .i64])
        XCTAssertEqual(back.entries[1].integers, values)
        XCTAssertEqual(back.entries[1].value.shape, [2, 3])
        XCTAssertEqual(try Data(contentsOf: u).count % 4, 0)
        let short = try rawFile("{\"c\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: .init(repeating: 0, count: 8))
        assertProblem(try SafeTensors(contentsOf: short)) { $0 == .sizeMismatch(tensor: "c", shape: [2], bytes: 8) }
    }

    // MARK: plain state_dicts

    /// The VAE checkpoint at `u` as a bare state_dict file, the way safetensors.torch.save_file writes one.
    private func stateDict(from u: URL, _ edit: (inout [SafeTensors.Entry]) throws -> Void = { _ in }) throws -> URL {
        var entries = try SafeTensors(contentsOf: u).entries
        try edit(&entries)
        let plain = url("state_dict.safetensors")
        try SafeTensors(entries: entries.reversed()).write(to: plain)
        return plain
    }

    func testAPlainStateDictInitialisesAModelStrictly() throws {
        let (u, model, session) = try savedVAE()
        let (other, otherSession) = try instance("vae", seed: 99)
        XCTAssertNil(try Checkpoint.loadInitialValues(from: try stateDict(from: u), into: otherSession.parameters, of: other.graph, model: "vae"))
        XCTAssertEqual(bits(otherSession.parameters, other.graph), bits(session.parameters, model.graph))
        XCTAssertEqual(try Checkpoint.loadInitialValues(from: u, into: otherSession.parameters, of: other.graph, model: "vae")?.step, 3,
                       "a gengraph checkpoint is still read with its metadata")
        assertProblem(try Checkpoint.load(from: try stateDict(from: u), into: otherSession.parameters, of: other.graph, model: "vae")) {
            if case .notACheckpoint = $0 { return true }; return false
        }

        let (fresh, freshSession) = try instance("vae", seed: 4)
        let before = bits(freshSession.parameters, fresh.graph)
        let broken: [(String, (inout [SafeTensors.Entry]) throws -> Void, CheckpointError.Problem)] = [
            ("missing", { $0.removeAll { $0.name == "dec2.bias" } }, .tensorNames(missing: ["dec2.bias"], unexpected: [])),
            ("extra", { $0.append(.init(name: "dec3.weight", value: try TensorValue(shape: [1], scalars: [0]))) },
             .tensorNames(missing: [], unexpected: ["dec3.weight"])),
            ("mis-shaped", { $0[0] = .init(name: "enc.weight", value: try TensorValue(shape: [784, 400], scalars: .init(repeating: 0, count: 313_600))) },
             .shapeMismatch(tensor: "enc.weight", found: [784, 400], expected: [400, 784])),
        ]
        for (what, edit, problem) in broken {
            let plain = try stateDict(from: u, edit)
            assertProblem(try Checkpoint.loadInitialValues(from: plain, into: freshSession.parameters, of: fresh.graph, model: "vae")) {
                $0 == problem
            }
            XCTAssertEqual(bits(freshSession.parameters, fresh.graph), before, "a \(what) tensor changed the store")
        }
    }

    // MARK: PyTorch

    /// Saves every zoo model's checkpoint, runs tools/check_checkpoint.py over them with `options`
    /// (it writes each back with its library's own writer into a directory), and checks that
    /// gengraph reads back the same bits and batch counts.
    private func roundTrip(_ python: [String], _ options: [String], seed: UInt64, through what: String) throws {
        let resaved = url(what)
        try FileManager.default.createDirectory(at: resaved, withIntermediateDirectories: true)
        var command = python + [Prerequisites.repository.appendingPathComponent("tools/check_checkpoint.py").path] + options + ["--resave", resaved.path]
        let instances = try Zoo.models.map { try instance($0.name, seed: seed) }
        for (model, session) in instances {
            for state in model.graph.states { if case .state(let name) = state.node.op { session.parameters.updateCounts[name] = 41 } }
            let u = url("\(model.name).safetensors")
            try Checkpoint.save(session.parameters, of: model.graph, metadata: CheckpointMetadata(model: model.name, step: 0, seed: seed), to: u)
            command.append("\(model.name)=\(u.path)")
        }
        let result = try Prerequisites.run(command)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssert(result.output.hasSuffix("OK\n"), result.output)
        for (model, session) in instances {
            let store = ParameterStore()
            try Checkpoint.load(from: resaved.appendingPathComponent("\(model.name).safetensors"), into: store, of: model.graph, model: model.name)
            XCTAssert(bits(store, model.graph) == bits(session.parameters, model.graph), "\(model.name) changed on its way through \(what)")
            XCTAssertEqual(store.updateCounts, session.parameters.updateCounts, "\(model.name)'s batch counts changed on their way through \(what)")
        }
    }

    /// The safetensors library itself (numpy flavour) reads every zoo model's checkpoint, and
    /// gengraph reads back what the library writes, bit for bit.
    func testSafetensorsLibraryReadsAndWritesCheckpoints() throws {
        try roundTrip(try Prerequisites.python(importing: "safetensors, numpy"), ["--numpy"], seed: 6, through: "safetensors.numpy")
    }

    /// tools/check_checkpoint.py loads every zoo model's checkpoint into its module of
    /// tools/peers/torch_ref.py with load_state_dict(strict=True), then writes the module's
    /// state_dict back with PyTorch's own writer for us to read.
    func testPyTorchLoadsCheckpointsStrictlyIntoTheReferenceModules() throws {
        try roundTrip(try Prerequisites.python(importing: "safetensors, torch"), [], seed: 5, through: "PyTorch")
    }

    /// Trains `model` a few steps with tools/peers/torch_ref.py and saves its state_dict; returns the file and torch_ref's JSON.
    private func torchTrained(_ model: String, batch: Int, options: [String] = []) throws -> (url: URL, report: [String: Any]) {
        let python = try Prerequisites.python(importing: "safetensors, torch")
        let data = try Prerequisites.fashionMNIST()
        let saved = url("torch-\(model).safetensors")
        let result = try Prerequisites.run(python + [Prerequisites.repository.appendingPathComponent("tools/peers/torch_ref.py").path,
                                                     "--model", model, "--steps", "2", "--warmup", "1", "--batch", "\(batch)",
                                                     "--threads", "1", "--seed", "3", "--data", data, "--save", saved.path, "--json"] + options)
        XCTAssertEqual(result.status, 0, result.output)
        let line = try XCTUnwrap(result.output.split(separator: "\n").last { $0.hasPrefix("{") }, result.output)
        return (saved, try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]))
    }

    /// A one-step gengraph run of the zoo model `name` started with `--init file`, on the first `batch` training images in file order.
    private func initialisedRun(_ name: String, batch: Int, from file: URL) throws -> TrainingRun {
        var options = TrainingOptions()
        options.dataDirectory = try Prerequisites.fashionMNIST()
        options.steps = 1
        options.shuffle = false
        options.logEvery = 1
        options.sampleCount = 0
        options.trainLimit = 4 * batch
        options.testLimit = batch
        return try TrainingRun(source: try XCTUnwrap(DSLZoo.model(named: name)), overrides: ["batch": "\(batch)"],
                               directory: RunDirectory(url("run-\(name)").path), config: RunConfig(threads: 1, seed: 3),
                               options: options, resume: false, initFrom: file.path)
    }

    /// A state_dict PyTorch trained and saved with safetensors.torch.save_file starts a gengraph run
    /// (`gengraph train MODEL --init FILE`), whose first loss on a fixed batch equals PyTorch's.
    func testPyTorchStateDictStartsTrainingWithTheSameLoss() throws {
        for (name, batch) in [("pixelcnn", 8), ("ae", 16)] {
            let (file, report) = try torchTrained(name, batch: batch, options: ["--fixed-batch-loss"])
            let expected = try XCTUnwrap(report["fixed_batch_loss"] as? Double, "\(report)")
            let run = try initialisedRun(name, batch: batch, from: file)
            try run.run()
            let table = try MetricsCSV.read(run.directory.metrics.path)
            let first = try XCTUnwrap(table.numbers("loss")?.first)
            XCTAssertEqual(first, expected, accuracy: 1e-5 * abs(expected), "\(name): gengraph's loss on PyTorch's parameters")
        }
    }

    /// A dcgan state_dict brings its running statistics and batch counters, which go on counting.
    func testPyTorchBatchNormStateCarriesOver() throws {
        let (file, _) = try torchTrained("dcgan", batch: 8)
        let torch = try SafeTensors(contentsOf: file)
        let run = try initialisedRun("dcgan", batch: 8, from: file)
        let store = run.trainer.session.parameters
        for entry in torch.entries where entry.dtype == .f32 {
            XCTAssertEqual(store.value(entry.name)?.scalars.map(\.bitPattern), entry.value.scalars.map(\.bitPattern), entry.name)
        }
        // Three generator passes (warm-up and two steps); the discriminator runs three times a step.
        XCTAssertEqual(torch["G.bn0.num_batches_tracked"]?.scalars, [3])
        XCTAssertEqual(torch["D.bn.num_batches_tracked"]?.scalars, [9])
        try run.run()
        let after = try SafeTensors(contentsOf: run.directory.checkpoint)
        XCTAssertEqual(after.entries.first { $0.name == "G.bn0.num_batches_tracked" }?.integers, [4])
        XCTAssertEqual(after.entries.first { $0.name == "D.bn.num_batches_tracked" }?.integers, [10])
    }
}
