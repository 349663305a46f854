import Kernels
print("kernel bench: not written yet", String(cString: gg_isa_name(gg_cpu_isa())))
