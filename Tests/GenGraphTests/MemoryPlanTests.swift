@testable import GenGraph
import XCTest

/// The arena planner alone: lifetimes from a step order, then offsets from lifetimes and sizes.
final class MemoryPlanTests: XCTestCase {
    func testLifetimesRunFromFirstWriteToLastReadAndResultsToTheEnd() {
        let steps = [
            StepAccess(writes: [10], reads: []),
            StepAccess(writes: [11], reads: [10, 99]),  // 99 is a leaf: no step writes it
            StepAccess(writes: [12, 10], reads: [11]),  // a second write does not move 10's start
            StepAccess(writes: [13], reads: [12]),
        ]
        XCTAssertEqual(lifetimes(of: steps, results: [11, 99]), [10: 0...2, 11: 1...4, 12: 2...3, 13: 3...3])
    }

    /// A chain of four values: the large ones share offset 0 (their lifetimes are disjoint),
    /// the small ones go to the first 64-byte boundary after what is live beside them.
    func testLargestFirstAtTheLowestAlignedOffsetFree() {
        let floats = [0: 100, 1: 40, 2: 100, 3: 10]
        let plan = planMemory(lifetimes: [0: 0...1, 1: 1...2, 2: 2...3, 3: 3...4], floats: { floats[$0]! })
        XCTAssertEqual(plan.slots.mapValues(\.offset), [0: 0, 1: 112, 2: 0, 3: 112])
        XCTAssertEqual(plan.slots[1], ArenaSlot(offset: 112, count: 40, firstStep: 1, lastStep: 2))
        XCTAssertEqual(plan.arenaFloats, 152)
        XCTAssertEqual(plan.peakFloats, 140)  // steps 1 and 2: 100 + 40
        XCTAssertEqual(plan.peakStep, 1)      // the first of them
    }

    /// A value written in place over one its step reads for the last time takes that value's
    /// slot, and so may the next in a chain; a pair whose input lives on past the step, a second
    /// claim on the same input, or a size mismatch keeps slots apart. Each slot keeps its own steps.
    func testInPlacePairsShareASlotOnlyAtTheInputsLastRead() {
        let floats = [0: 100, 1: 100, 2: 100, 3: 100, 4: 50, 5: 100]
        let lives: [Int: ClosedRange<Int>] = [0: 0...1, 1: 1...2, 2: 2...3, 3: 3...5, 4: 3...4, 5: 1...2]
        let plan = planMemory(lifetimes: lives, floats: { floats[$0]! },
                              inPlace: [(output: 1, input: 0), (output: 2, input: 1), (output: 5, input: 0), (output: 4, input: 2),
                                        (output: 3, input: 1)])
        XCTAssertEqual(plan.inPlace, [1: 0, 2: 1])  // 5: 0 is taken; 4: sizes differ; 3: 1's last read is step 2
        XCTAssertEqual(plan.slots[1]?.offset, plan.slots[0]?.offset)
        XCTAssertEqual(plan.slots[2]?.offset, plan.slots[0]?.offset)
        XCTAssertEqual(plan.slots[1], ArenaSlot(offset: plan.slots[0]!.offset, count: 100, firstStep: 1, lastStep: 2))
        XCTAssertEqual(plan.slots[0]?.lastStep, 1)
        XCTAssertNotEqual(plan.slots[5]?.offset, plan.slots[0]?.offset)
        XCTAssertEqual(plan.arenaFloats, 274)  // the chain 0-1-2 at 0; 5, then 3, at 112; 4 beside the chain and 3 at 224
        let noReuse = planMemory(lifetimes: lives, floats: { floats[$0]! }, reuse: false, inPlace: [(output: 1, input: 0)])
        XCTAssertEqual(noReuse.inPlace, [:])
    }

    func testASmallValueFillsAGapBetweenLiveValues() {
        let floats = [0: 64, 1: 48, 2: 40, 3: 16, 4: 0]
        let plan = planMemory(lifetimes: [0: 0...4, 1: 0...1, 2: 0...4, 3: 2...3, 4: 2...3], floats: { floats[$0]! })
        // 1 holds [64, 112) during steps 0-1; 3 takes it over in steps 2-3, and an empty value still gets a float.
        XCTAssertEqual(plan.slots.mapValues(\.offset), [0: 0, 1: 64, 2: 112, 3: 64, 4: 80])
        XCTAssertEqual(plan.slots[4]?.count, 1)
        XCTAssertEqual(plan.arenaFloats, 152)
    }

    /// Largest first puts 1 (48 floats, steps 0-1) at 0, 2 and 0 or 3 after it, and the last at
    /// 96: 112 floats. Longest-lived first puts 2 (steps 0-3) at 0, 3 (steps 2-4) at 32, then 1 at
    /// 32 and 0 at 64 beside 2 and 3: 96, and the planner keeps that.
    func testThePlannerKeepsTheOrderThatPacksTightest() {
        let floats = [0: 32, 1: 48, 2: 32, 3: 32]
        let plan = planMemory(lifetimes: [0: 2...2, 1: 0...1, 2: 0...3, 3: 2...4], floats: { floats[$0]! })
        XCTAssertEqual(plan.arenaFloats, 96)
        XCTAssertEqual(plan.slots.mapValues(\.offset), [0: 64, 1: 32, 2: 0, 3: 32])
    }

    /// Random step orders: values live at the same time never overlap, offsets are aligned,
    /// and the peak is the largest sum of live sizes over the steps.
    func testRandomSchedulesNeverOverlapLiveValues() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for _ in 0..<50 {
            let count = 1 + next(30)
            var steps: [StepAccess] = []
            for s in 0..<count {
                let reads = s == 0 ? [] : (0..<next(3)).map { _ in next(s) }
                steps.append(StepAccess(writes: [s], reads: reads))
            }
            let floats = (0..<count).map { _ in next(300) }
            let live = lifetimes(of: steps, results: [count - 1])
            let plan = planMemory(lifetimes: live, floats: { floats[$0] })
            let slots = Array(plan.slots.values)
            XCTAssertEqual(slots.count, count)
            for s in slots { XCTAssertEqual(s.offset % 16, 0) }
            for (i, a) in slots.enumerated() {
                for b in slots[(i + 1)...] where a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                    XCTAssertTrue(a.offset + a.count <= b.offset || b.offset + b.count <= a.offset, "overlap \(a) \(b)")
                }
            }
            XCTAssertEqual(plan.arenaFloats, slots.map { $0.offset + $0.count }.max())
            let peak = (0...count).map { s in slots.filter { $0.firstStep <= s && s <= $0.lastStep }.reduce(0) { $0 + $1.count } }.max()
            XCTAssertEqual(plan.peakFloats, peak)
        }
    }
}
