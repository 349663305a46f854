// gengraph-kernel-bench: throughput of the C kernels against the machine's peak.
//
//   --op gemm  for each thread count, transpose combination (the ones training
//              uses: NN forward, TN = A^T B and NT = A B^T backward) and shape
//   --op conv  the three convolution kernels (forward, bwd_data = the transposed
//              conv, bwd_filter) at the model zoo's large shapes or --convs
//   --op peak  register-only FMA chains: the FMA peak the others are held to
// Each case warms up, sizes an inner loop so a sample lasts --min-time seconds,
// then reports the median GFLOP/s of --reps samples (and the min..max spread);
// conv rows also give the share of the peak measured in the same run.
// --cold times one call per sample, each after the kernel's threads have
// written 32 MiB elsewhere: operands then come from the last-level cache, as
// inside a training step, where other kernels ran in between.
//
//   gengraph-kernel-bench [--op gemm|conv|peak] [--threads 1,2] [--isa best|avx512|avx2|portable|all]
//                         [--trans NN,TN,NT] [--shapes MxKxN,...] [--convs N:C:H:W:OC:K:S:P,...]
//                         [--reps 15] [--min-time 0.02] [--cold] [--json]
import Foundation
import Kernels

/// A convolution case: its name and shape record (forward view).
struct ConvCase {
    let name: String
    let n, c, h, w, oc, k, stride, pad: Int
    var shape: gg_conv2d_shape {
        let oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1
        return gg_conv2d_shape(n: Int64(n), c: Int64(c), h: Int64(h), w: Int64(w), oc: Int64(oc), kh: Int64(k), kw: Int64(k),
                               stride: Int64(stride), pad: Int64(pad), oh: Int64(oh), ow: Int64(ow))
    }
    var flops: Double {
        let s = shape
        return 2.0 * Double(s.n * s.oc * s.oh * s.ow) * Double(s.c * s.kh * s.kw)
    }
}

/// The zoo's large convolutions at their training batch.
let zooConvs = [
    ConvCase(name: "dcgan 1->64 k4s2 28", n: 64, c: 1, h: 28, w: 28, oc: 64, k: 4, stride: 2, pad: 1),
    ConvCase(name: "dcgan 64->128 k4s2 14", n: 64, c: 64, h: 14, w: 14, oc: 128, k: 4, stride: 2, pad: 1),
    ConvCase(name: "pixelcnn 32->32 3x3 28", n: 64, c: 32, h: 28, w: 28, oc: 32, k: 3, stride: 1, pad: 1),
    ConvCase(name: "classifier 32->64 3x3 14", n: 128, c: 32, h: 14, w: 14, oc: 64, k: 3, stride: 1, pad: 1),
    ConvCase(name: "ddpm 64->64 3x3 14", n: 128, c: 64, h: 14, w: 14, oc: 64, k: 3, stride: 1, pad: 1),
    ConvCase(name: "ddpm 32->32 3x3 28", n: 128, c: 32, h: 28, w: 28, oc: 32, k: 3, stride: 1, pad: 1),
    ConvCase(name: "ddpm 64->32 3x3 28", n: 128, c: 64, h: 28, w: 28, oc: 32, k: 3, stride: 1, pad: 1),
    ConvCase(name: "realnvp 2->32 3x3 28", n: 64, c: 2, h: 28, w: 28, oc: 32, k: 3, stride: 1, pad: 1),
    ConvCase(name: "realnvp 32->2 3x3 28", n: 64, c: 32, h: 28, w: 28, oc: 2, k: 3, stride: 1, pad: 1),
]

struct Options {
    var op = "gemm"
    var convs = zooConvs
    var threads: [Int32] = [1, 2]
    var isas: [Int32] = [-1]
    var trans: [String] = ["NN", "TN", "NT"]
    var shapes: [(m: Int, k: Int, n: Int)] = [(128, 784, 400), (128, 400, 784), (784, 128, 400),
                                               (400, 128, 784), (512, 512, 512), (1024, 1024, 1024)]
    var reps = 15
    var minTime = 0.02
    var json = false
    var cold = false
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(("error: \(message)\n" + """
    usage: gengraph-kernel-bench [--op gemm|conv|peak] [--threads 1,2] [--isa best|avx512|avx2|portable|all]
                                 [--trans NN,TN,NT] [--shapes MxKxN,...] [--convs N:C:H:W:OC:K:S:P,...]
                                 [--reps N] [--min-time S] [--cold] [--json]

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
        case "--op":
            o.op = value(flag)
            if !["gemm", "conv", "peak"].contains(o.op) { usage("bad --op \(o.op) (gemm, conv or peak)") }
        case "--convs":
            o.convs = value(flag).split(separator: ",").map { spec in
                let d = spec.split(separator: ":").compactMap { Int($0) }
                // Each tensor stays within 2^28 floats, so sizes and FLOP counts cannot overflow.
                guard d.count == 8, d[0] >= 1, d[0] <= 4096, d[1...4].allSatisfy({ (1...4096).contains($0) }),
                      (1...64).contains(d[5]), (1...8).contains(d[6]), (0...64).contains(d[7]),
                      d[2] + 2 * d[7] >= d[5], d[3] + 2 * d[7] >= d[5],
                      d[0] * d[1] * d[2] * d[3] <= 1 << 28, d[0] * d[4] * d[2] * d[3] <= 1 << 28 else {
                    usage("bad conv \(spec) (N:C:H:W:OC:K:S:P, sizes 1...4096, kernel 1...64, stride 1...8, pad 0...64, each tensor <= 2^28 floats)")
                }
                return ConvCase(name: String(spec), n: d[0], c: d[1], h: d[2], w: d[3], oc: d[4], k: d[5], stride: d[6], pad: d[7])
            }
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
        case "--cold": o.cold = true
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

/// Median, min and max GFLOP/s of `run` (which does `flops` per call) under the options' sampling.
func sample(flops: Double, o: Options, threads: Int32, _ run: () -> Void) -> (median: Double, lo: Double, hi: Double) {
    // Warm-up for at least 50 ms: caches, page faults, the OpenMP team, clocks.
    let warm = seconds()
    repeat { run() } while seconds() - warm < 0.05
    var samples: [Double] = []
    if o.cold {
        // 32 MiB, written by the kernel's threads: each core's L2 (2 MiB here) is refilled several times over.
        let evictFloats = 8 << 20
        let evict = UnsafeMutablePointer<Float>.allocate(capacity: evictFloats)
        defer { evict.deallocate() }
        var ctx = gg_ctx(nthreads: threads, isa: -1, scratch: nil, scratch_len: 0)
        for _ in 0..<o.reps {
            _ = gg_fill_f32(&ctx, evict, Int64(evictFloats), 0.5)
            let t0 = seconds()
            run()
            samples.append(flops / (seconds() - t0) / 1e9)
        }
        return summary(samples)
    }
    var inner = 1
    while true {
        let t0 = seconds()
        for _ in 0..<inner { run() }
        if seconds() - t0 >= o.minTime { break }
        inner *= 2
    }
    for _ in 0..<o.reps {
        let t0 = seconds()
        for _ in 0..<inner { run() }
        samples.append(flops * Double(inner) / (seconds() - t0) / 1e9)
    }
    return summary(samples)
}

func summary(_ unsorted: [Double]) -> (median: Double, lo: Double, hi: Double) {
    let samples = unsorted.sorted()
    let mid = samples.count / 2
    return (samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2, samples.first!, samples.last!)
}

/// The FMA peak (GFLOP/s) on these threads and ISA.
func peak(threads: Int32, isa: Int32, o: Options) -> (median: Double, lo: Double, hi: Double) {
    var ctx = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
    var flops = 0.0
    let iterations: Int64 = 1 << 20
    _ = gg_fma_peak_probe(&ctx, iterations, &flops)
    return sample(flops: flops, o: o, threads: threads) { _ = gg_fma_peak_probe(&ctx, iterations, nil) }
}

/// The three conv kernels on one case: (kind, median, min, max) GFLOP/s each.
func benchConv(_ cv: ConvCase, threads: Int32, isa: Int32, o: Options) -> [(String, Double, Double, Double)] {
    var s = cv.shape
    let nx = cv.n * cv.c * cv.h * cv.w, ny = Int(s.n * s.oc * s.oh * s.ow), nw = cv.oc * cv.c * cv.k * cv.k
    let x = alignedFloats(nx, seed: 1), w = alignedFloats(nw, seed: 2), dy = alignedFloats(ny, seed: 3)
    let y = alignedFloats(ny, seed: 4), dx = alignedFloats(nx, seed: 5), dw = alignedFloats(nw, seed: 6)
    var ctx = gg_ctx(nthreads: threads, isa: isa, scratch: nil, scratch_len: 0)
    let need = Int(gg_conv2d_f32_scratch(&ctx, &s))
    let scratch = alignedFloats(need, seed: 7)
    ctx.scratch = scratch
    ctx.scratch_len = Int64(need)
    defer { [x, w, dy, y, dx, dw, scratch].forEach { UnsafeMutableRawPointer($0).deallocate() } }
    let kinds: [(String, () -> gg_status)] = [
        ("fwd", { gg_conv2d_f32(&ctx, y, x, w, &s) }),
        ("bwd_data", { gg_conv2d_bwd_data_f32(&ctx, dx, dy, w, &s) }),
        ("bwd_filter", { gg_conv2d_bwd_filter_f32(&ctx, dw, x, dy, &s) }),
    ]
    return kinds.map { name, call in
        let r = sample(flops: cv.flops, o: o, threads: threads) {
            let st = call()
            if st != GG_OK { fatalError("\(name) \(cv.name) failed: \(st)") }
        }
        return (name, r.median, r.lo, r.hi)
    }
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
    let r = sample(flops: 2.0 * Double(m) * Double(n) * Double(k), o: o, threads: threads) {
        let st = gg_gemm_f32(&ctx, c, Int64(n), a, lda, ta ? 1 : 0, b, ldb, tb ? 1 : 0, Int64(m), Int64(n), Int64(k), 1, 0)
        if st != GG_OK { fatalError("gg_gemm_f32 failed: \(st)") }
    }
    let (median, lo, hi) = r
    return Result(threads: threads, isa: String(cString: gg_isa_name(gg_ctx_isa(&ctx))), trans: trans,
                  m: m, k: k, n: n, median: median, lo: lo, hi: hi)
}

let o = parseOptions()
func isaName(_ isa: Int32) -> String {
    var ctx = gg_ctx(nthreads: 1, isa: isa, scratch: nil, scratch_len: 0)
    return String(cString: gg_isa_name(gg_ctx_isa(&ctx)))
}
let header = "cpu isa \(String(cString: gg_isa_name(gg_cpu_isa()))), openmp \(gg_openmp_enabled() == 1 ? "on" : "off"), median of \(o.reps)\(o.cold ? " cold calls" : "")"
switch o.op {
case "peak":
    if !o.json { print("gengraph FMA peak: \(header)\nthreads  isa        GFLOP/s   (min .. max)") }
    var rows: [String] = []
    for isa in o.isas {
        for t in o.threads {
            let r = peak(threads: t, isa: isa, o: o)
            if o.json {
                rows.append(String(format: "  {\"threads\": %d, \"isa\": \"%@\", \"gflops\": %.2f, \"min\": %.2f, \"max\": %.2f}",
                                   t, isaName(isa) as NSString, r.median, r.lo, r.hi))
            } else {
                print(String(format: "%7d  %@ %8.1f   (%.1f .. %.1f)", t, isaName(isa).padding(toLength: 8, withPad: " ", startingAt: 0) as NSString,
                             r.median, r.lo, r.hi))
            }
        }
    }
    if o.json { print("{\"library\": \"gengraph\", \"op\": \"peak\", \"rows\": [\n" + rows.joined(separator: ",\n") + "\n]}") }
case "conv":
    if !o.json {
        print("gengraph conv bench: \(header); % = share of the FMA peak measured first on the same threads")
        print("threads  isa      case                         kernel       GFLOP/s   peak%   (min .. max)")
    }
    var rows: [String] = []
    for isa in o.isas {
        for t in o.threads {
            let top = peak(threads: t, isa: isa, o: o).median
            for cv in o.convs {
                for (kind, median, lo, hi) in benchConv(cv, threads: t, isa: isa, o: o) {
                    if o.json {
                        rows.append(String(format: "  {\"threads\": %d, \"isa\": \"%@\", \"case\": \"%@\", \"kernel\": \"%@\", \"gflops\": %.2f, \"peak\": %.2f, \"min\": %.2f, \"max\": %.2f}",
                                           t, isaName(isa) as NSString, cv.name as NSString, kind as NSString, median, top, lo, hi))
                    } else {
                        print(String(format: "%7d  %@ %@ %@ %8.1f  %5.1f%%   (%.1f .. %.1f)", t,
                                     isaName(isa).padding(toLength: 8, withPad: " ", startingAt: 0) as NSString,
                                     cv.name.padding(toLength: 28, withPad: " ", startingAt: 0) as NSString,
                                     kind.padding(toLength: 11, withPad: " ", startingAt: 0) as NSString, median, 100 * median / top, lo, hi))
                        fflush(stdout)
                    }
                }
            }
        }
    }
    if o.json { print("{\"library\": \"gengraph\", \"op\": \"conv\", \"rows\": [\n" + rows.joined(separator: ",\n") + "\n]}") }
default:
    var results: [Result] = []
    if !o.json {
        print("gengraph GEMM bench: \(header)")
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
}
