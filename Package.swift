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
        .target(name: "GenGraph", dependencies: ["Kernels", "CZlib"], resources: [.embedInCode("DSL/Zoo")]),
        .executableTarget(
            name: "gengraph",
            dependencies: ["GenGraph", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gengraph-kernel-bench", dependencies: ["Kernels"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "GenGraphTests", dependencies: ["GenGraph", "Kernels"]),
    ],
    cLanguageStandard: .c11
)
