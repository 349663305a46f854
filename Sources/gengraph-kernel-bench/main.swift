// gengraph-kernel-bench: GEMM throughput of the C kernels.
//
// For each thread count, transpose combination (the ones training uses: NN
// forward, TN = A^T B and NT = A B^T backward) and shape, it warms up, sizes an
// inner loop so a sample lasts --min-time seconds, then reports the median
// GFLOP/s of --reps samples (and the min..max spread).
//
//   gengraph-kernel-bench [--threads 1,2] [--isa best|avx512|avx2|portable|all]
//                         [--trans NN,TN,NT] [--shapes MxKxN,...] [--reps 15]
//                         [--min-time 0.02] [--json]
import Foundation
import Kernels

struct Options {
    var threads: [Int32] = [1, 2]
    var isas: [Int32] = [-1]
    var trans: [String] = ["NN", "TN", "NT"]
    var shapes: [(m: Int, k: Int, n: Int)] = [(128, 784, 400), (128, 400, 784), (784, 128, 400),
                                               (400, 128, 784), (512, 512, 512), (1024, 1024, 1024)]
    var reps = 15
    var minTime = 0.02
    var json = false
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(("error: \(message)\n" + """
    usage: gengraph-kernel-bench [--threads 1,2] [--isa best|avx512|avx2|portable|all]
                                 [--trans NN,TN,NT] [--shapes MxKxN,...] [--reps N] [--min-time S] [--json]

    """).data(using: .utf8)!)
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { usage("\(flag) needs a value") }
        return v
    }
    let isaNames: [String: Int32] = ["best": -1, "portable": 0, "avx2": 1, "avx512": 2]
    while let flag = args.popFirst() {
        switch flag {
        case "--threads":
            o.threads = value(flag).split(separator: ",").map { Int32($0) ?? 0 }
            if o.threads.contains(where: { $0 < 1 || $0 > 1024 }) { usage("bad --threads (each in 1...1024)") }
        case "--isa":
            let v = value(flag)
            if v == "all" { o.isas = [2, 1, 0] }
            else {
                o.isas = v.split(separator: ",").map { name in
                    guard let isa = isaNames[String(name)] else { usage("bad --isa \(name)") }
                    return isa
                }
            }
        case "--trans":
            o.trans = value(flag).split(separator: ",").map(String.init)
            if o.trans.contains(where: { !["NN", "NT", "TN", "TT"].contains($0) }) { usage("bad --trans") }
        case "--shapes":
            o.shapes = value(flag).split(separator: ",").map { s in
                let d = s.split(separator: "x").compactMap { Int($0) }
                // Each operand stays within 2^28 floats (1 GiB), so sizes and FLOP counts cannot overflow.
                if d.count != 3 || d.contains(where: { $0 < 1 || $0 > 16384 }) { usage("bad shape \(s) (each size in 1...16384)") }
                return (d[0], d[1], d[2])
            }
        case "--reps":
            guard let reps = Int(value(flag)), (1...1000).contains(reps) else { usage("bad --reps (1...1000)") }
            o.reps = reps
        case "--min-time":
            guard let t = Double(value(flag)), t > 0, t <= 60 else { usage("bad --min-time (seconds in (0, 60])") }
            o.minTime = t
        case "--json": o.json = true
        case "-h", "--help": usage("help")
        default: usage("unknown flag \(flag)")
        }
    }
    return o
}

func seconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// 64-byte aligned floats filled with values in [-1, 1).
func alignedFloats(_ n: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(n, 1) * 4, alignment: 64)
        .bindMemory(to: Float.self, capacity: max(n, 1))
    var s = seed
    for i in 0..<n {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        p[i] = Float(s >> 40) / Float(1 << 23) - 1
    }
    return p
}

struct Result {
    let threads: Int32, isa: String, trans: String, m: Int, k: Int, n: Int
    let median: Double, lo: Double, hi: Double
}

func bench(m: Int, k: Int, n: Int, trans: String, threads: Int32, isa: Int32, o: Options) -> Result {
    let ta = trans.first == "T", tb = trans.last == "T"
    let a = alignedFloats(m * k, seed: 1), b = alignedFloats(k * n, seed: 2), c = alignedFloats(m * n, seed: 3)
    var ctx = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
    let need = Int(gg_gemm_f32_scratch(&ctx, Int64(m), Int64(n), Int64(k)))
    let scratch = alignedFloats(need, seed: 4)
    ctx.scratch = scratch
    ctx.scratch_len = Int64(need)
    defer { [a, b, c, scratch].forEach { UnsafeMutableRawPointer($0).deallocate() } }
    let lda = Int64(ta ? m : k), ldb = Int64(tb ? k : n)
    func run(_ times: Int) {
        for _ in 0..<times {
            let st = gg_gemm_f32(&ctx, c, Int64(n), a, lda, ta ? 1 : 0, b, ldb, tb ? 1 : 0,
                                 Int64(m), Int64(n), Int64(k), 1, 0)
            if st != GG_OK { fatalError("gg_gemm_f32 failed: \(st)") }
        }
    }
    // Warm-up for at least 50 ms: caches, page faults, the OpenMP team, clocks.
    let warm = seconds()
    repeat { run(1) } while seconds() - warm < 0.05
    var inner = 1
    while true {
        let t0 = seconds()
        run(inner)
        if seconds() - t0 >= o.minTime { break }
        inner *= 2
    }
    let flops = 2.0 * Double(m) * Double(n) * Double(k) * Double(inner)
    var samples: [Double] = []
    for _ in 0..<o.reps {
        let t0 = seconds()
        run(inner)
        samples.append(flops / (seconds() - t0) / 1e9)
    }
    samples.sort()
    let mid = samples.count / 2
    let median = samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
    return Result(threads: threads, isa: String(cString: gg_isa_name(gg_ctx_isa(&ctx))), trans: trans,
                  m: m, k: k, n: n, median: median, lo: samples.first!, hi: samples.last!)
}

let o = parseOptions()
var results: [Result] = []
if !o.json {
    print("gengraph GEMM bench: cpu isa \(String(cString: gg_isa_name(gg_cpu_isa()))), openmp \(gg_openmp_enabled() == 1 ? "on" : "off"), median of \(o.reps)")
    print("threads  isa      trans      M      K      N   GFLOP/s   (min .. max)")
}
for isa in o.isas {
    for t in o.threads {
        for tr in o.trans {
            for s in o.shapes {
                let r = bench(m: s.m, k: s.k, n: s.n, trans: tr, threads: t, isa: isa, o: o)
                results.append(r)
                if !o.json {
                    // Pad in Swift: %-8@ does not pad on Linux Foundation.
                    let isa = r.isa.padding(toLength: 8, withPad: " ", startingAt: 0)
                    let tr = r.trans.padding(toLength: 5, withPad: " ", startingAt: 0)
                    print(String(format: "%7d  %@ %@ %6d %6d %6d  %8.1f   (%.1f .. %.1f)", r.threads, isa as NSString,
                                 tr as NSString, r.m, r.k, r.n, r.median, r.lo, r.hi))
                    fflush(stdout)
                }
            }
        }
    }
}
if o.json {
    let rows = results.map { r in
        String(format: "  {\"threads\": %d, \"isa\": \"%@\", \"trans\": \"%@\", \"M\": %d, \"K\": %d, \"N\": %d, \"gflops\": %.2f, \"min\": %.2f, \"max\": %.2f}",
               r.threads, r.isa as NSString, r.trans as NSString, r.m, r.k, r.n, r.median, r.lo, r.hi)
    }
    print("{\"library\": \"gengraph\", \"rows\": [\n" + rows.joined(separator: ",\n") + "\n]}")
}
