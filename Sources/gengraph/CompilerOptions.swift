import ArgumentParser
import GenGraph

/// The compiler's options for `train`, `bench` and `dump`: `--fusion-off KIND[,KIND...]`,
/// optimisations to skip, and `--memory-limit MB`, working storage to fit in.
struct CompilerOptions: ParsableArguments {
    @Option(name: .customLong("fusion-off"), parsing: .singleValue,
            help: "Turn compiler optimisations off (repeatable or comma-separated): \(FusionKind.allCases.map(\.rawValue).joined(separator: ",")).")
    var lists: [String] = []

    /// The kinds named, checked before any work starts.
    func kinds() throws -> Set<FusionKind> { try fusionKinds(lists, flag: "--fusion-off") }

    @Option(name: .customLong("memory-limit"),
            help: "Working storage in MB the fused plan should fit in: the compiler recomputes activations for the backward pass until it does (checkpointing; docs/compiler.md).")
    var memoryLimit: String?

    /// The limit in bytes, checked before any work starts.
    func memoryLimitBytes() throws -> Int? {
        guard let text = memoryLimit else { return nil }
        // A limit past a terabyte is a typo, not a plan: it would also overflow the arena's Int of floats.
        guard let mb = Double(text), mb.isFinite, mb > 0, mb <= 1e6 else {
            throw ValidationError("--memory-limit: expected megabytes in (0, 1000000], got '\(text)'")
        }
        return Int(mb * 1e6)
    }

    func validate() throws {
        _ = try kinds()
        _ = try memoryLimitBytes()
    }
}

/// The fusion kinds that `flag`'s values (each a comma-separated list) name; an unknown name is a usage error.
func fusionKinds(_ lists: [String], flag: String) throws -> Set<FusionKind> {
    do {
        return try lists.reduce(into: Set<FusionKind>()) { $0.formUnion(try FusionKind.parse($1)) }
    } catch let error as GraphError {
        throw ValidationError("\(flag): \(error.message)")
    }
}
