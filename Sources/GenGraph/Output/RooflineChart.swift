import Foundation

/// A log-log roofline chart as inline SVG: arithmetic intensity (FLOP/byte) across, GFLOP/s up,
/// the roof min(peak, intensity x bandwidth) of one thread count, and one dot per kernel.
public struct RooflineChart {
    public struct Dot {
        /// The kernel's index, kept as the dot's `data-k` so a page can link it.
        public let kernel: Int
        public let intensity: Double
        public let gflops: Double
        public let phase: PlanPhase
        public let label: String

        public init(kernel: Int, intensity: Double, gflops: Double, phase: PlanPhase, label: String) {
            self.kernel = kernel
            self.intensity = intensity
            self.gflops = gflops
            self.phase = phase
            self.label = label
        }
    }

    public let point: Roofline.Point
    public let dots: [Dot]

    public init(point: Roofline.Point, dots: [Dot]) {
        self.point = point
        self.dots = dots
    }

    /// The dots of `kernels`: at their measured GFLOP/s when `seconds` (per kernel) is given, else on
    /// the roof, which marks how fast each could run at best. Kernels without FLOPs are left out.
    public init(point: Roofline.Point, kernels: [PlanKernel], seconds: [Double]?) {
        let dots = kernels.compactMap { k -> Dot? in
            guard k.flops > 0, k.bytes > 0 else { return nil }
            let roof = min(point.peakGFLOPs, k.intensity * point.bandwidthGBs)
            let gflops = seconds.map { Double(k.flops) / max($0[k.index], 1e-12) / 1e9 } ?? roof
            return Dot(kernel: k.index, intensity: k.intensity, gflops: gflops, phase: k.phase,
                       label: String(format: "#%d %@: %.3g FLOP/byte, %.3g GFLOP/s", k.index, k.kernel, k.intensity, gflops))
        }
        self.init(point: point, dots: dots)
    }

    private let width = 640.0, height = 380.0
    private let left = 64.0, right = 16.0, top = 16.0, bottom = 44.0

    public var svg: String {
        let ridge = point.peakGFLOPs / point.bandwidthGBs
        let xs = dots.map(\.intensity) + [ridge]
        let ys = dots.map(\.gflops) + [point.peakGFLOPs]
        let x0 = floor(log10(xs.min()!)) - (dots.isEmpty ? 1 : 0), x1 = max(ceil(log10(xs.max()!)), x0 + 1)
        let y0 = floor(log10(max(ys.min()!, 1e-6))), y1 = max(ceil(log10(ys.max()! * 1.5)), y0 + 1)
        func px(_ v: Double) -> Double { left + (log10(v) - x0) / (x1 - x0) * (width - left - right) }
        func py(_ v: Double) -> Double { height - bottom - (log10(v) - y0) / (y1 - y0) * (height - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var parts = ["<svg class=\"roofline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
                     + "width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"]
        parts.append("<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" fill=\"#fbfbfb\" stroke=\"#999\"/>")
        for e in Int(x0)...Int(x1) {
            let x = px(pow(10, Double(e)))
            parts.append("<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(height - bottom))\" stroke=\"#e2e2e2\"/>")
            parts.append("<text x=\"\(f(x))\" y=\"\(f(height - bottom + 14))\" text-anchor=\"middle\">\(decade(e))</text>")
        }
        for e in Int(y0)...Int(y1) {
            let y = py(pow(10, Double(e)))
            parts.append("<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(width - right))\" y2=\"\(f(y))\" stroke=\"#e2e2e2\"/>")
            parts.append("<text x=\"\(f(left - 4))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(decade(e))</text>")
        }
        parts.append("<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">arithmetic intensity (FLOP/byte)</text>")
        parts.append("<text transform=\"translate(14 \(f((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">GFLOP/s</text>")
        // The roof: the bandwidth line up to the ridge point, then the peak; clipped to the plot.
        let start = pow(10, x0), end = pow(10, x1)
        let knee = min(max(ridge, start), end)
        let bottomLeft = max(start, pow(10, y0) / point.bandwidthGBs)
        parts.append("<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" points=\"\(f(px(bottomLeft))),\(f(py(bottomLeft * point.bandwidthGBs))) "
                     + "\(f(px(knee))),\(f(py(min(knee * point.bandwidthGBs, point.peakGFLOPs)))) \(f(px(end))),\(f(py(point.peakGFLOPs)))\"/>")
        parts.append("<text x=\"\(f(width - right - 4))\" y=\"\(f(py(point.peakGFLOPs) - 5))\" text-anchor=\"end\" fill=\"#c0392b\">"
                     + String(format: "peak %.1f GFLOP/s, %.1f GB/s, %d thread%@", point.peakGFLOPs, point.bandwidthGBs, point.threads,
                              point.threads == 1 ? "" : "s") + "</text>")
        for d in dots {
            parts.append("<circle class=\"rdot\" data-k=\"\(d.kernel)\" cx=\"\(f(px(d.intensity)))\" cy=\"\(f(py(max(d.gflops, pow(10, y0)))))\" r=\"5\" "
                         + "fill=\"\(d.phase.fill)\" stroke=\"\(d.phase.band)\" stroke-width=\"1.5\"><title>\(HTML.escape(d.label))</title></circle>")
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    private func decade(_ e: Int) -> String {
        e >= 0 ? String(format: "%.0f", pow(10, Double(e))) : String(format: "%.\(-e)f", pow(10, Double(e)))
    }
}
