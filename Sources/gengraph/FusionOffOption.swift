import ArgumentParser
import GenGraph

/// `--fusion-off KIND[,KIND...]` for `train`, `bench` and `dump`: compiler optimisations to skip.
struct FusionOffOption: ParsableArguments {
    @Option(name: .customLong("fusion-off"), parsing: .singleValue,
            help: "Turn compiler optimisations off (repeatable or comma-separated): \(FusionKind.allCases.map(\.rawValue).joined(separator: ",")).")
    var lists: [String] = []

    /// The kinds named, checked before any work starts.
    func kinds() throws -> Set<FusionKind> { try fusionKinds(lists, flag: "--fusion-off") }

    func validate() throws { _ = try kinds() }
}

/// The fusion kinds that `flag`'s values (each a comma-separated list) name; an unknown name is a usage error.
func fusionKinds(_ lists: [String], flag: String) throws -> Set<FusionKind> {
    do {
        return try lists.reduce(into: Set<FusionKind>()) { $0.formUnion(try FusionKind.parse($1)) }
    } catch let error as GraphError {
        throw ValidationError("\(flag): \(error.message)")
    }
}
