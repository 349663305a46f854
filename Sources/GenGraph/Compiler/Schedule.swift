/// Orders kernels: a topological order of the fusion groups that, among the
/// groups ready to run, prefers the one that grows live memory least (floats
/// it writes minus floats whose last reader it is), then program order.
func schedule(_ fused: FusedProgram) -> [Int] {
    let groups = fused.groups
    let count = groups.count
    let nodes = fused.program.nodes
    let views = fused.views

    // Which groups each group reads from, and who reads each stored value.
    var readsFrom = [Set<Int>](repeating: [], count: count)
    var readers: [Int: Set<Int>] = [:]  // stored node -> reading groups
    for (g, group) in groups.enumerated() {
        let members = Set(group.nodes)
        for id in group.nodes {
            for i in nodes[id].inputs {
                if members.contains(i) && views[i].kind == .value { continue }
                if case .constant = views[i].kind { continue }
                let root = views[i].root
                guard let h = fused.groupOf[root], h != g else { continue }
                readsFrom[g].insert(h)
                readers[root, default: []].insert(g)
            }
        }
    }
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
