/// What one plan step does to the arena: the values it writes and the stored values it reads.
struct StepAccess: Equatable {
    let writes: [Int]
    let reads: [Int]
}

/// Where each stored value of a plan lives in its one arena.
struct MemoryPlan: Equatable {
    var slots: [Int: ArenaSlot]
    var arenaFloats: Int
    /// The most floats live during any one step, and the first step at which they are.
    var peakFloats: Int
    var peakStep: Int
    /// Values written over the storage of a value that the same step reads for the last time
    /// (value -> the value whose slot it takes).
    var inPlace: [Int: Int] = [:]
}

/// The steps during which each value must keep its storage when `steps` run in
/// order: from the first step that writes it to the last that reads it.
/// `results` are read by the caller after the last step, so they live to
/// `steps.count`. Values no step writes (leaves, constants) get no lifetime.
func lifetimes(of steps: [StepAccess], results: [Int]) -> [Int: ClosedRange<Int>] {
    var first: [Int: Int] = [:], last: [Int: Int] = [:]
    for (s, t) in steps.enumerated() {
        for v in t.writes { first[v] = first[v] ?? s; last[v] = max(last[v] ?? s, s) }
        for v in t.reads { last[v] = max(last[v] ?? s, s) }
    }
    for v in results where first[v] != nil { last[v] = steps.count }
    return first.reduce(into: [:]) { ranges, entry in ranges[entry.key] = entry.value...last[entry.key]! }
}

/// Arena offsets for values with these lifetimes: each value in turn at the lowest
/// 64-byte-aligned offset that no value live at the same time overlaps. The order decides
/// how tightly lifetimes pack, and no one order is best for every plan, so this places the
/// values in three orders (largest first; longest-lived first; earliest first, each then
/// largest and by id) and keeps the smallest arena (the first on a tie). `floats` gives a
/// value's size. Without `reuse` no two values share storage (`FusionKind.memory` off):
/// each avoids every value placed before it.
///
/// `inPlace` lists (output, input) pairs of one step whose kernel may write the output over the
/// input (an elementwise or reduction kernel, same shape and layout): where that step is the input's last
/// read and the output's first write, and the input's slot does not already pass to another
/// value, the output takes the input's slot and the two are placed as one value.
func planMemory(lifetimes allLifetimes: [Int: ClosedRange<Int>], floats: (Int) -> Int, reuse: Bool = true,
                inPlace: [(output: Int, input: Int)] = []) -> MemoryPlan {
    // In step order (then by output), so that a chain (a written over b written over c) places
    // as its first value, and the same pairs always give the same plan.
    var lifetimes = allLifetimes
    var headOf: [Int: Int] = [:], taken: [Int: Int] = [:]
    let candidates = inPlace.filter { allLifetimes[$0.output] != nil }
        .sorted { (allLifetimes[$0.output]!.lowerBound, $0.output) < (allLifetimes[$1.output]!.lowerBound, $1.output) }
    for (o, i) in candidates where reuse {
        guard let li = allLifetimes[i], let lo = allLifetimes[o], headOf[o] == nil, taken[i] == nil,
              li.upperBound == lo.lowerBound, floats(o) == floats(i) else { continue }
        let head = headOf[i] ?? i
        taken[i] = o
        headOf[o] = head
        lifetimes[head] = lifetimes[head]!.lowerBound...lo.upperBound
        lifetimes[o] = nil
    }
    var plan = placeValues(lifetimes: lifetimes, floats: floats, reuse: reuse)
    // Every value of a chain keeps its own lifetime in its slot.
    for v in Set(headOf.keys).union(headOf.values) {
        let slot = plan.slots[headOf[v] ?? v]!
        plan.slots[v] = ArenaSlot(offset: slot.offset, count: slot.count, firstStep: allLifetimes[v]!.lowerBound,
                                  lastStep: allLifetimes[v]!.upperBound)
    }
    plan.inPlace = Dictionary(uniqueKeysWithValues: taken.map { ($0.value, $0.key) })
    return plan
}

private func placeValues(lifetimes: [Int: ClosedRange<Int>], floats: (Int) -> Int, reuse: Bool) -> MemoryPlan {
    let sizes = Dictionary(uniqueKeysWithValues: lifetimes.keys.map { ($0, max(1, floats($0))) })
    func size(_ v: Int) -> Int { sizes[v]! }
    let bySize = lifetimes.keys.sorted { (size($0), $1) > (size($1), $0) }
    func span(_ v: Int) -> Int { lifetimes[v]!.count }
    let orders = reuse ? [
        bySize,
        lifetimes.keys.sorted { (span($0), size($0), $1) > (span($1), size($1), $0) },
        lifetimes.keys.sorted { (-lifetimes[$0]!.lowerBound, size($0), $1) > (-lifetimes[$1]!.lowerBound, size($1), $0) },
    ] : [bySize]
    let placements = orders.map { place($0, lifetimes: lifetimes, size: sizes, reuse: reuse) }
    let (slots, arena) = placements.min { $0.arena < $1.arena }!
    var peak = 0, peakStep = 0
    for s in 0...(lifetimes.values.map(\.upperBound).max() ?? 0) {
        let live = slots.values.filter { $0.firstStep <= s && s <= $0.lastStep }.reduce(0) { $0 + $1.count }
        if live > peak { (peak, peakStep) = (live, s) }
    }
    return MemoryPlan(slots: slots, arenaFloats: arena, peakFloats: peak, peakStep: peakStep)
}

/// Offsets for `values` placed in this order, each at the lowest aligned offset clear of the
/// values placed before it that are live at the same time (all of them without `reuse`).
private func place(_ values: [Int], lifetimes: [Int: ClosedRange<Int>], size: [Int: Int], reuse: Bool)
    -> (slots: [Int: ArenaSlot], arena: Int) {
    var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
    var slots: [Int: ArenaSlot] = [:]
    var arena = 0
    for v in values {
        let count = size[v]!, lo = lifetimes[v]!.lowerBound, hi = lifetimes[v]!.upperBound
        let conflicts = placed.filter { !reuse || ($0.first <= hi && lo <= $0.last) }.sorted { $0.offset < $1.offset }
        var offset = 0
        for c in conflicts {
            if offset + count <= c.offset { break }
            offset = max(offset, (c.end + 15) / 16 * 16)
        }
        placed.append((offset, offset + count, lo, hi))
        slots[v] = ArenaSlot(offset: offset, count: count, firstStep: lo, lastStep: hi)
        arena = max(arena, offset + count)
    }
    return (slots, arena)
}
