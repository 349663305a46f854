import Kernels
public func kernelISA() -> String { String(cString: gg_isa_name(gg_cpu_isa())) }
