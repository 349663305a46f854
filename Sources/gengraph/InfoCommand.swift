import ArgumentParser
import GenGraph

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the kernels' instruction set, OpenMP, MPI and thread count.")

    @OptionGroup var runOptions: RunOptions

    func run() throws {
        let config = try runOptions.config()
        print("isa      \(KernelInfo.isa)")
        print("openmp   \(KernelInfo.openMP ? "yes" : "no")")
        print("threads  \(config.threads)")
        print("mpi      \(Distributed.isAvailable ? "yes (mpirun -np N gengraph train ...)" : "no")")
    }
}
