import Foundation
import GenGraph
import XCTest

/// What some tests need from outside the repository: Fashion-MNIST, and a Python with numpy,
/// safetensors or PyTorch. Where one is missing, a test skips and says how to install it; under
/// CI=true, where tools/setup.sh has installed them all, a missing one fails the test instead,
/// so that a broken install cannot pass as a row of skips.
enum Prerequisites {
    /// The repository's root, for its tools/.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The PyTorch environment `tools/setup.sh --peers` creates.
    static let peersPython = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/gg-peers/torch/bin/python").path

    /// Whether missing prerequisites are failures (CI) rather than skips.
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// A prerequisite that CI should have installed.
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The error for a missing prerequisite: a skip that says how to install it, or under CI a failure.
    static func missing(_ what: String, install: String) -> Error {
        required ? Missing(description: "\(what), which CI=true requires (\(install))") : XCTSkip("\(what); to run this test: \(install)")
    }

    /// Fashion-MNIST's directory, once its training images are there.
    static func fashionMNIST() throws -> String {
        let directory = MNISTDataset.defaultDirectory
        guard ["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"].contains(where: { FileManager.default.fileExists(atPath: directory + $0) }) else {
            throw missing("Fashion-MNIST is not installed at \(directory)", install: "bash tools/setup.sh")
        }
        return directory
    }

    /// The command of a Python that imports `packages` (comma-separated): the peers' environment, else the system's python3.
    static func python(importing packages: String) throws -> [String] {
        var candidates = [["/usr/bin/env", "python3"]]
        if FileManager.default.isExecutableFile(atPath: peersPython) { candidates.insert([peersPython], at: 0) }
        for command in candidates where (try? run(command + ["-c", "import \(packages)"]))?.status == 0 {
            return command
        }
        throw missing("no Python imports \(packages)", install: "bash tools/setup.sh --peers")
    }

    /// Runs `command` to its end, with `environment` changed (nil values unset); its exit status
    /// and its stdout and stderr together.
    static func run(_ command: [String], environment: [String: String?] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            for (name, value) in environment { merged[name] = value }
            process.environment = merged
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
