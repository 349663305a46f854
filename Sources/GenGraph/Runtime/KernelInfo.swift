import Kernels

/// What the kernels were built with and will use on this CPU.
public enum KernelInfo {
    public static var isa: String { String(cString: gg_isa_name(gg_cpu_isa())) }
    public static var openMP: Bool { gg_openmp_enabled() != 0 }
}
