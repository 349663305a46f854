import Foundation

/// How two compiled plans differ (`gengraph dump A --diff B`): the kernels one
/// launches and the other does not, and the totals side by side. Kernels are
/// matched by what they compute (`KernelSignature`), not by position, so a plan
/// with one more kernel early on does not show every later kernel as changed;
/// plans of different programs (another model, another latent size) compare too.
public struct PlanDiff {
    /// What a kernel step computes, without node ids: the C kernel, the fusion
    /// group's kind, its member ops (prologues' too) in program order, and the
    /// shapes it iterates or writes.
    public struct KernelSignature: Hashable, Comparable, CustomStringConvertible {
        public let kernel: String
        /// The fusion group's kind ("elementwise", "contraction", ...), or "copy", "update", "all-reduce".
        public let kind: String
        public let ops: [String]
        public let shapes: [Shape]

        public var description: String {
            "\(kernel) \(kind) " + shapes.map { "f32\($0)" }.joined(separator: " ")
                + (ops.isEmpty ? "" : ": " + ops.joined(separator: ", "))
        }

        public static func < (a: Self, b: Self) -> Bool { a.description < b.description }
    }

    /// A signature and how many more steps with it one plan has than the other.
    public struct Change: Equatable {
        public let signature: KernelSignature
        public let count: Int
    }

    public struct Totals: Equatable {
        public let kernels: Int
        public let flops: Int
        /// Bytes read and written by all steps.
        public let bytes: Int
        public let arenaBytes: Int

        public init(_ plan: Plan) {
            kernels = plan.steps.count
            flops = plan.steps.reduce(0) { $0 + $1.flops }
            bytes = plan.steps.reduce(0) { $0 + $1.bytesRead + $1.bytesWritten }
            arenaBytes = plan.arenaFloats * 4
        }
    }

    /// Kernels B launches that A does not, and A's that B does not, by signature.
    public let added: [Change]
    public let removed: [Change]
    public let before: Totals
    public let after: Totals

    /// Same kernels and the same totals.
    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && before == after }

    public init(_ a: Plan, _ b: Plan) {
        let countsA = Self.signatures(a).reduce(into: [:]) { $0[$1, default: 0] += 1 }
        let countsB = Self.signatures(b).reduce(into: [:]) { $0[$1, default: 0] += 1 }
        func surplus(_ x: [KernelSignature: Int], over y: [KernelSignature: Int]) -> [Change] {
            x.compactMap { s, n in n > y[s, default: 0] ? Change(signature: s, count: n - y[s, default: 0]) : nil }
                .sorted { $0.signature < $1.signature }
        }
        added = surplus(countsB, over: countsA)
        removed = surplus(countsA, over: countsB)
        before = Totals(a)
        after = Totals(b)
    }

    /// Each step's signature, in plan order.
    public static func signatures(_ plan: Plan) -> [KernelSignature] {
        let nodes = plan.fused.program.nodes
        return plan.steps.map { step in
            switch step.op {
            case .update(let u):
                return KernelSignature(kernel: step.kernel, kind: "update", ops: [], shapes: u.sizes.map { Shape([$0]) })
            case .allReduceStart(let r), .allReduceFinish(let r):
                return KernelSignature(kernel: step.kernel, kind: "all-reduce", ops: [], shapes: r.sizes.map { Shape([$0]) })
            default:
                break
            }
            guard let g = step.group else {
                // A copy the plan added (an operand GEMM cannot read, a result): its values have no node.
                return KernelSignature(kernel: step.kernel, kind: "copy", ops: [], shapes: [Shape([step.bytesWritten / 4])])
            }
            let group = plan.fused.groups[g]
            let members = (step.prologues.flatMap { plan.fused.groups[$0].nodes } + group.nodes).sorted()
            return KernelSignature(kernel: step.kernel, kind: group.kind.rawValue, ops: members.map { nodes[$0].op.name },
                                   shapes: [group.space] + (group.postSpace.map { [$0] } ?? []))
        }
    }

    /// The diff as text: removed and added kernels, then the totals A -> B with the change.
    public func text(a: String, b: String) -> String {
        var lines = ["plan diff: A = \(a), B = \(b)"]
        func list(_ title: String, _ changes: [Change], _ mark: String) {
            let n = changes.reduce(0) { $0 + $1.count }
            lines.append("\(title) (\(n)):" + (changes.isEmpty ? " none" : ""))
            lines += changes.map { "  \(mark) " + ($0.count > 1 ? "\($0.count)x " : "") + $0.signature.description }
        }
        list("kernels only in A", removed, "-")
        list("kernels only in B", added, "+")
        lines.append("")
        lines.append("                          A              B         change")
        func row(_ name: String, _ x: Double, _ y: Double, _ format: String) {
            let change = y - x
            let relative = x == 0 ? "" : String(format: " (%+.1f%%)", 100 * change / x)
            let signed = format.replacingOccurrences(of: "%", with: "%+")
            lines.append(name.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: "  \(format)  \(format)  \(signed)", x, y, change) + relative)
        }
        row("kernels", Double(before.kernels), Double(after.kernels), "%13.0f")
        row("GFLOP", Double(before.flops) / 1e9, Double(after.flops) / 1e9, "%13.4f")
        row("MB moved", Double(before.bytes) / 1e6, Double(after.bytes) / 1e6, "%13.3f")
        row("arena MB", Double(before.arenaBytes) / 1e6, Double(after.arenaBytes) / 1e6, "%13.3f")
        return lines.joined(separator: "\n")
    }
}
