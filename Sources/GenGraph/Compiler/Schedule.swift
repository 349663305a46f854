/// Orders kernels: a topological order of the fusion groups that, among the
/// groups ready to run, prefers the one that grows live memory least (floats
/// it writes minus floats whose last reader it is), then program order.
func schedule(_ fused: FusedProgram) -> [Int] {
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

    var ready = Set((0..<count).filter { waiting[$0] == 0 })
    var order: [Int] = []
    while let next = ready.min(by: { a, b in
        let (da, db) = (writtenFloats(a) - freedFloats(a), writtenFloats(b) - freedFloats(b))
        return da != db ? da < db : a < b
    }) {
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
