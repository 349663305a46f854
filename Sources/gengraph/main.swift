import GenGraph; print(kernelISA())
