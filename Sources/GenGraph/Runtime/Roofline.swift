import Foundation
import Kernels

/// This machine's limits as the kernels meet them, per thread count: the FMA
/// peak (register-only FMA chains in the widest vectors) and the memory
/// bandwidth (the elementwise add kernel over arrays far larger than the
/// caches, 12 bytes per element). A kernel of arithmetic intensity I
/// (FLOP/byte) can reach at most min(peak, I x bandwidth): its roof.
public struct Roofline: Codable, Equatable {
    public struct Point: Codable, Equatable {
        public let threads: Int
        public let peakGFLOPs: Double
        public let bandwidthGBs: Double
    }
    /// Which machine and kernels the figures belong to: the CPU's model name and the ISA.
    public let machine: String
    public var points: [Point]

    /// The roof (GFLOP/s) of a kernel doing `flops` over `bytes` on `threads` threads.
    public func roof(flops: Double, bytes: Double, threads: Int) -> Double? {
        guard let p = point(threads: threads) else { return nil }
        guard bytes > 0 else { return p.peakGFLOPs }
        return min(p.peakGFLOPs, flops / bytes * p.bandwidthGBs)
    }

    public func point(threads: Int) -> Point? { points.first { $0.threads == threads } }

    /// The machine key: CPU model name (from /proc/cpuinfo where there is one) and kernel ISA.
    public static var machineKey: String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
        let model = line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
        return "\(model ?? "unknown cpu") / \(KernelInfo.isa)"
    }

    /// Measures thread counts 1...maxThreads (each figure the median of `rounds`).
    public static func measure(maxThreads: Int, rounds: Int = 5) -> Roofline {
        Roofline(machine: machineKey, points: (1...max(1, maxThreads)).map { t in
            Point(threads: t, peakGFLOPs: median((0..<rounds).map { _ in peak(threads: t) }),
                  bandwidthGBs: median((0..<rounds).map { _ in bandwidth(threads: t) }))
        })
    }

    private static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// GFLOP/s of FMA chains long enough (about 50 ms) that starting the threads does not count.
    private static func peak(threads: Int) -> Double {
        var ctx = gg_ctx(nthreads: Int32(threads), isa: -1, scratch: nil, scratch_len: 0)
        var flops = 0.0
        _ = gg_fma_peak_probe(&ctx, 1 << 12, &flops)
        var iterations: Int64 = 1 << 16
        while true {
            let t0 = seconds()
            _ = gg_fma_peak_probe(&ctx, iterations, &flops)
            let dt = seconds() - t0
            if dt >= 0.05 || iterations >= 1 << 40 { return flops / dt / 1e9 }
            iterations *= 2
        }
    }

    /// GB/s of y = a + b over 3 x 64 MiB, counting 12 bytes per element.
    private static func bandwidth(threads: Int) -> Double {
        let n = 16 << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { a.deallocate(); b.deallocate(); y.deallocate() }
        a.initialize(repeating: 1, count: n)
        b.initialize(repeating: 2, count: n)
        y.initialize(repeating: 0, count: n)
        var ctx = gg_ctx(nthreads: Int32(threads), isa: -1, scratch: nil, scratch_len: 0)
        var shape = [Int64(n)], unit = [Int64(1)]
        func run() { _ = gg_binary_f32(&ctx, y, a, &unit, b, &unit, &shape, 1, GG_BINARY_ADD) }
        run()
        let t0 = seconds()
        run()
        run()
        return 2 * 12 * Double(n) / (seconds() - t0) / 1e9
    }

    // MARK: The cache file

    /// Where measured rooflines are kept: $XDG_CACHE_HOME or ~/.cache, gengraph/roofline.json. The XDG
    /// specification ignores an empty or relative XDG_CACHE_HOME (it would put the cache in the current directory).
    public static var cacheURL: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : nil }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("gengraph/roofline.json")
    }

    /// The kept roofline of this machine, or nil when there is none (or the file is not one).
    public static func cached(at url: URL = cacheURL) -> Roofline? {
        guard let data = try? Data(contentsOf: url), data.count < 1 << 20,
              let r = try? JSONDecoder().decode(Roofline.self, from: data), r.machine == machineKey,
              // Bounds no CPU of today reaches, so an edited or damaged file is measured again rather than trusted.
              !r.points.isEmpty, r.points.allSatisfy({ (0...1e6).contains($0.peakGFLOPs) && $0.peakGFLOPs > 0
                                                       && (0...1e5).contains($0.bandwidthGBs) && $0.bandwidthGBs > 0 })
        else { return nil }
        return r
    }

    /// Keeps this roofline (written whole to a temporary file, then renamed over the old one).
    public func save(to url: URL = Roofline.cacheURL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
