import ArgumentParser
import GenGraph

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the kernels' instruction set, OpenMP, MPI and thread count.",
        discussion: """
            --roofline measures this machine's FMA peak and memory bandwidth on 1 to --threads threads \
            (a few seconds), prints them and keeps them in \(Roofline.cacheURL.path) for `bench --profile`.
            """)

    @OptionGroup var runOptions: RunOptions

    @Flag(name: .long, help: "Measure the FMA peak and memory bandwidth per thread count and keep them.")
    var roofline = false

    func run() throws {
        let config = try runOptions.config()
        print("isa      \(KernelInfo.isa)")
        print("openmp   \(KernelInfo.openMP ? "yes" : "no")")
        print("threads  \(config.threads)")
        print("mpi      \(Distributed.isAvailable ? "yes (mpirun -np N gengraph train ...)" : "no")")
        guard roofline else { return }
        let measured = Roofline.measure(maxThreads: config.threads)
        print("roofline \(measured.machine)")
        print("threads  peak GFLOP/s  bandwidth GB/s  ridge FLOP/byte")
        for p in measured.points {
            print(String(format: "%7d  %12.1f  %14.1f  %15.1f", p.threads, p.peakGFLOPs, p.bandwidthGBs, p.peakGFLOPs / p.bandwidthGBs))
        }
        do {
            try measured.save()
            print("kept in \(Roofline.cacheURL.path)")
        } catch {
            throw CLIError("info --roofline: cannot keep the roofline in \(Roofline.cacheURL.path): \(error.localizedDescription)")
        }
    }
}
