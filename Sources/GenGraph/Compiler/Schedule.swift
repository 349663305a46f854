/// Orders kernels: a topological order of the fusion groups that, among the
/// groups ready to run, prefers the one that grows live memory least (floats
/// it writes minus floats whose last reader it is), then program order.
///
/// Groups holding a node of `late` (copies that recompute a value for its late readers:
/// `rematerialize`) run only when no other group is ready, and then the one that the
/// earliest waiting group needs first: run as soon as they are ready, copies would hold
/// their values through the very peak they exist to lower.
func schedule(_ fused: FusedProgram, late: Set<Int> = []) -> [Int] {
    let groups = fused.groups
    let count = groups.count
    let nodes = fused.program.nodes

    // Which groups each group reads from, and who reads each stored value.
    let readsFrom = fused.groupReads
    var readers: [Int: Set<Int>] = [:]  // stored node -> reading groups
    for (g, loads) in fused.groupLoads.enumerated() { for v in loads { readers[v, default: []].insert(g) } }
    var pendingReaders = readers.mapValues(\.count)
    var waiting = readsFrom.map(\.count)
    var dependents = [[Int]](repeating: [], count: count)
    for g in 0..<count { for h in readsFrom[g] { dependents[h].append(g) } }

    let isLate = groups.map { $0.nodes.contains(where: late.contains) }
    /// For a late group: the lowest-numbered other group downstream of it (program order: the first to need it).
    var neededBy = [Int?](repeating: nil, count: count)
    func firstNeed(_ g: Int) -> Int {
        if let n = neededBy[g] { return n }
        let n = dependents[g].map { isLate[$0] ? firstNeed($0) : $0 }.min() ?? Int.max
        neededBy[g] = n
        return n
    }

    func writtenFloats(_ g: Int) -> Int { groups[g].stored.reduce(0) { $0 + nodes[$1].shape.count } }
    func freedFloats(_ g: Int) -> Int {
        var freed = 0
        for h in readsFrom[g] {
            for id in groups[h].stored where readers[id]?.contains(g) == true && pendingReaders[id] == 1 {
                freed += nodes[id].shape.count
            }
        }
        return freed
    }
    func growth(_ g: Int) -> Int { writtenFloats(g) - freedFloats(g) }

    var ready = Set((0..<count).filter { waiting[$0] == 0 })
    var order: [Int] = []
    while !ready.isEmpty {
        let eager = ready.filter { !isLate[$0] }
        let next = eager.isEmpty
            ? ready.min { a, b in (firstNeed(a), growth(a), a) < (firstNeed(b), growth(b), b) }!
            : eager.min { a, b in (growth(a), a) < (growth(b), b) }!
        ready.remove(next)
        order.append(next)
        for h in readsFrom[next] {
            for id in groups[h].stored where readers[id]?.contains(next) == true { pendingReaders[id]! -= 1 }
        }
        for d in dependents[next] {
            waiting[d] -= 1
            if waiting[d] == 0 { ready.insert(d) }
        }
    }
    return order
}
