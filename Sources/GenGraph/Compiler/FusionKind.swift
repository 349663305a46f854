import Foundation

/// One optimisation of the compiler that can be turned off, to see what it
/// buys (`gengraph bench --ablate`, `dump --diff-fusion-off`). Turning one off
/// changes only which values are stored and which kernels run: every plan
/// computes the same step, so losses agree with full fusion to the fused ==
/// eager bounds.
public enum FusionKind: String, CaseIterable, Hashable, Sendable {
    /// Elementwise ops join an elementwise producer's kernel (off: one kernel per
    /// elementwise op, unless it joins a reduction or an epilogue).
    case elementwise
    /// A reduction joins its producer's kernel, elementwise ops over its input
    /// join it, and its elementwise consumers run in the pass after it (off: each
    /// reduction is a kernel of its own that reads its input from memory).
    case reductions
    /// Reductions that load a common value merge into one pass (`mergeSiblingReductions`).
    case siblings
    /// Elementwise consumers of a GEMM or convolution run on its output tiles, and a
    /// convolution's per-channel sums fold into its kernel.
    case epilogues
    /// GEMMs compute elementwise operands as they pack them (`assignPrologues`).
    case prologues
    /// Cheap values are recomputed by their readers instead of stored (`recomputeCheapValues`).
    case recompute
    /// A normalisation's statistics passes and the passes over its input that read them run as
    /// phases of one kernel, slab by slab, while each slab is in cache (`mergePhases`).
    case phases
    /// The plan applies the optimiser's updates itself (`PlannedUpdates`); off, the
    /// plan returns the gradients and the optimiser updates after it, as in eager mode.
    case updates
    /// Values whose lifetimes do not overlap share arena storage (off: one slot each).
    case memory

    /// Parses a comma-separated list of kind names ("epilogues,prologues"), naming the valid ones on error.
    public static func parse(_ text: String) throws -> Set<FusionKind> {
        var kinds = Set<FusionKind>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let kind = FusionKind(rawValue: name) else {
                throw GraphError(op: "fusion-off", "unknown fusion kind '\(name)'; valid kinds: "
                    + allCases.map(\.rawValue).joined(separator: ", "))
            }
            kinds.insert(kind)
        }
        return kinds
    }

    /// A set of kinds as text, in declaration order ("none" for the empty set), for keys and labels.
    public static func describe(_ kinds: Set<FusionKind>) -> String {
        kinds.isEmpty ? "none" : allCases.filter(kinds.contains).map(\.rawValue).joined(separator: ",")
    }
}
