// swift-tools-version:5.9
import PackageDescription
import Foundation

/// Debian's libomp-dev installs omp.h inside clang's resource directory of its
/// LLVM (`/usr/lib/llvm-N/lib/clang/X.Y.Z/include`) and libomp.so in
/// `/usr/lib/llvm-N/lib`; Swift's bundled clang looks in neither. We search for
/// them here, newest LLVM first, so a newer LLVM works without edits. Without
/// them the kernels build single-threaded (every `omp` pragma is ignored).
func findOpenMP() -> (include: String, lib: String)? {
    let fm = FileManager.default
    func entries(_ dir: String) -> [String] {
        ((try? fm.contentsOfDirectory(atPath: dir)) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
    }
    for llvm in entries("/usr/lib") where llvm.hasPrefix("llvm-") {
        let lib = "/usr/lib/\(llvm)/lib"
        guard fm.fileExists(atPath: "\(lib)/libomp.so") else { continue }
        for version in entries("\(lib)/clang") {
            let include = "\(lib)/clang/\(version)/include"
            if fm.fileExists(atPath: "\(include)/omp.h") { return (include, lib) }
        }
    }
    return nil
}

let openMP = findOpenMP()
var kernelFlags = ["-O3", "-fno-math-errno"]
var kernelLinker: [LinkerSetting] = [.linkedLibrary("m")]
if let omp = openMP {
    kernelFlags += ["-fopenmp", "-isystem", omp.include]
    kernelLinker += [.unsafeFlags(["-L\(omp.lib)", "-Xlinker", "-rpath", "-Xlinker", omp.lib]),
                     .linkedLibrary("omp")]
}

/// Open MPI's compile and link flags, from pkg-config's ompi-c or else its compiler wrapper
/// (`mpicc --showme:compile` / `--showme:link`); nil without MPI, and the build then runs
/// single-process only (gg_mpi.c's stand-ins say so when distributed use is asked for).
func findMPI() -> (compile: [String], link: [String])? {
    func output(_ command: [String]) -> [String]? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let tool = paths.map({ "\($0)/\(command[0])" }).first(where: FileManager.default.isExecutableFile) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
    }
    let found = output(["pkg-config", "--cflags", "ompi-c"]).flatMap { c in output(["pkg-config", "--libs", "ompi-c"]).map { (c, $0) } }
        ?? output(["mpicc", "--showme:compile"]).flatMap { c in output(["mpicc", "--showme:link"]).map { (c, $0) } }
    guard let (compile, link) = found, link.contains(where: { $0.hasPrefix("-lmpi") }) else { return nil }
    // The library directory also goes into the run path, for an MPI outside the loader's default paths.
    let rpaths = link.filter { $0.hasPrefix("-L") }.flatMap { ["-Xlinker", "-rpath", "-Xlinker", String($0.dropFirst(2))] }
    return (compile.filter { $0.hasPrefix("-I") || $0.hasPrefix("-D") || $0 == "-pthread" }, link + rpaths)
}

let mpi = findMPI()
var mpiSettings: [CSetting] = []
var mpiLinker: [LinkerSetting] = []
if let mpi {
    mpiSettings = [.define("GG_HAVE_MPI"), .unsafeFlags(mpi.compile)]
    mpiLinker = [.unsafeFlags(mpi.link)]
}

let package = Package(
    name: "gengraph",
    products: [
        .library(name: "GenGraph", targets: ["GenGraph"]),
        .executable(name: "gengraph", targets: ["gengraph"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "Kernels",
            path: "Kernels",
            cSettings: [.unsafeFlags(kernelFlags)],
            linkerSettings: kernelLinker),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CMPI", path: "Sources/CMPI", cSettings: mpiSettings, linkerSettings: mpiLinker),
        .target(name: "GenGraph", dependencies: ["Kernels", "CZlib", "CMPI"], resources: [.embedInCode("DSL/Zoo")]),
        .executableTarget(
            name: "gengraph",
            dependencies: ["GenGraph", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gengraph-kernel-bench", dependencies: ["Kernels"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "GenGraphTests", dependencies: ["GenGraph", "Kernels"]),
    ],
    cLanguageStandard: .c11
)
