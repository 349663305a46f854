import Kernels

/// A conv2d shape with a square kernel; the output size follows from the others.
func convShape(_ n: Int64, _ c: Int64, _ h: Int64, _ w: Int64, _ oc: Int64, _ k: Int64, _ stride: Int64,
               _ pad: Int64) -> gg_conv2d_shape {
    gg_conv2d_shape(n: n, c: c, h: h, w: w, oc: oc, kh: k, kw: k, stride: stride, pad: pad,
                    oh: (h + 2 * pad - k) / stride + 1, ow: (w + 2 * pad - k) / stride + 1)
}

/// One convolution kernel with an epilogue on one shape: its input, weights, a bias per output
/// channel, and the output shape. Forward: x (n, c, h, w) -> y (n, oc, oh, ow). Data gradient:
/// dy (n, oc, oh, ow) -> dx (n, c, h, w).
struct ConvEpilogueProblem {
    var s: gg_conv2d_shape
    let backward: Bool
    let x: AlignedBuffer, w: AlignedBuffer, bias: AlignedBuffer
    let outShape: [Int64]
    var count: Int { Int(outShape.reduce(1, *)) }
    var channels: Int { Int(outShape[1]) }

    init(_ s: gg_conv2d_shape, backward: Bool, seed: UInt64) {
        self.s = s
        self.backward = backward
        let inShape: [Int64] = backward ? [s.n, s.oc, s.oh, s.ow] : [s.n, s.c, s.h, s.w]
        outShape = backward ? [s.n, s.c, s.h, s.w] : [s.n, s.oc, s.oh, s.ow]
        var g = SeededValues(seed: seed)
        x = AlignedBuffer(g.array(Int(inShape.reduce(1, *))))
        w = AlignedBuffer(g.array(Int(s.oc * s.c * s.kh * s.kw)))
        bias = AlignedBuffer(g.array(Int(outShape[1])))
    }

    var what: String { backward ? "bwd_data" : "forward" }
}
