import CMPI
import Foundation

/// This process's place in a data-parallel job (`mpirun -np N gengraph train ...`): its rank
/// and the number of ranks. Process-wide because MPI is: it is initialised once, before any
/// graph is compiled, and fixed for the process's life.
public enum Distributed {
    /// This process's rank, 0 for a single process.
    public private(set) static var rank = 0
    /// Ranks in the job, 1 for a single process.
    public private(set) static var size = 1

    /// Whether this build links MPI.
    public static var isAvailable: Bool { gg_mpi_available() != 0 }

    /// The ranks `mpirun` started this process among (Open MPI's launcher sets
    /// OMPI_COMM_WORLD_SIZE in every rank's environment), nil when not started by it.
    public static func launchedRanks(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) }
    }

    /// The ranks mpirun started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE), 1 when not started by it.
    public static func localRanks(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) }.map { Swift.max(1, $0) } ?? 1
    }

    /// Joins the job: initialises MPI and learns rank and size. Throws when this build has no MPI.
    public static func start() throws {
        guard isAvailable else {
            throw GraphError(op: "distributed", "this build of gengraph has no MPI, so it cannot train across processes; install "
                             + "libopenmpi-dev (bash tools/setup.sh), then rm -rf ~/.cache/org.swift.swiftpm/manifests and rebuild")
        }
        var r: Int32 = 0, s: Int32 = 1
        var message = [CChar](repeating: 0, count: 256)
        guard gg_mpi_init(&r, &s, &message, Int32(message.count)) == 0 else {
            throw GraphError(op: "distributed", String(cString: message))
        }
        rank = Int(r)
        size = Int(s)
    }

    /// Leaves the job after a clean finish.
    public static func finish() {
        if size > 1 { _ = gg_mpi_finalize() }
    }

    /// Ends every rank of the job with `code` (a failing rank must not leave the others
    /// waiting in an all-reduce).
    public static func abort(code: Int32) -> Never {
        gg_mpi_abort(code)
        exit(code)
    }

    /// Refuses to run a step built for `replicas` ranks in a job of another size (an all-reduce
    /// outside MPI, or with ranks that never join it, would crash or hang).
    static func check(replicas: Int) throws {
        guard replicas == size else {
            throw GraphError(op: "distributed", "this step averages gradients over \(replicas) ranks but the job has \(size)"
                             + (size == 1 ? " (start it with mpirun -np \(replicas))" : ""))
        }
    }

    /// Sums `count` floats at `values` across ranks, in place.
    static func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        if size == 1 { return }  // the sum over one rank
        guard gg_mpi_allreduce_sum(values, Int64(count)) == 0 else { throw GraphError(op: "all_reduce", "MPI_Allreduce failed") }
    }

    /// Sums the tensors at `parts` across ranks and multiplies them by `scale`: one message for all of them.
    static func allReduceSum(_ parts: [(pointer: UnsafeMutablePointer<Float>, count: Int)], scale: Float, replicas: Int) throws {
        try check(replicas: replicas)
        var packed = [Float]()
        packed.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { packed += UnsafeBufferPointer(start: part.pointer, count: part.count) }
        try packed.withUnsafeMutableBufferPointer { try allReduceSum($0.baseAddress!, count: $0.count) }
        var at = 0
        for part in parts {
            for i in 0..<part.count { part.pointer[i] = packed[at + i] * scale }
            at += part.count
        }
    }

    /// Sends `count` floats at `values` from rank 0 to every rank.
    static func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        guard gg_mpi_broadcast(values, Int64(count * MemoryLayout<Float>.size), 0) == 0 else {
            throw GraphError(op: "broadcast", "MPI_Bcast failed")
        }
    }

    /// Refuses to go on unless every rank holds the same `lines` (rank 0's are sent to all): ranks
    /// started with different flags would otherwise train different things, or wait forever in an
    /// all-reduce the others never reach. Every rank must call it at the same point.
    static func checkSameOnEveryRank(_ lines: [String], _ what: String) throws {
        guard size > 1 else { return }
        let mine = Array(lines.joined(separator: "\n").utf8)
        var length = Int64(mine.count)
        guard gg_mpi_broadcast(&length, Int64(MemoryLayout<Int64>.size), 0) == 0, length >= 0, length <= 1 << 30 else {
            throw GraphError(op: "broadcast", "MPI_Bcast failed")
        }
        var rankZero = rank == 0 ? mine : [UInt8](repeating: 0, count: Int(length))
        let sent = rankZero.withUnsafeMutableBytes { gg_mpi_broadcast($0.baseAddress, Int64($0.count), 0) }
        guard sent == 0 else { throw GraphError(op: "broadcast", "MPI_Bcast failed") }
        let theirs = String(decoding: rankZero, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard theirs != lines else { return }
        let k = zip(lines, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(lines.count, theirs.count)
        throw GraphError(op: "train", "rank \(rank) was started with other \(what) than rank 0: "
                         + "'\(k < lines.count ? lines[k] : "(nothing)")' here, '\(k < theirs.count ? theirs[k] : "(nothing)")' on rank 0; "
                         + "start every rank with the same command")
    }

    /// Seconds this process has spent in all-reduces (waiting on them included) and their count.
    public static var reductionSeconds: Double { gg_mpi_wait_seconds() }
    public static var reductions: Int { Int(gg_mpi_reductions()) }

    /// The element offset of a random tensor of `count` elements on this rank: every random
    /// tensor is drawn as this rank's block of one N times larger along its first axis, so with
    /// the batch first, rank r's rows get the draws of the same rows of the one-process batch.
    static func randomOffset(count: Int) -> UInt64 { UInt64(rank) * UInt64(count) }
}
