import Foundation

/// An SVG line plot of training curves: one line per named series, with axes, ticks, grid and legend.
/// Points that cannot be drawn (NaN, infinities, magnitudes past `drawableMagnitude`, and values <= 0
/// on a log scale) are skipped and the line is broken there; the legend counts them so a diverging run
/// is not silently hidden.
public struct LossPlot {
    /// One named curve, drawn in the order its points are given.
    public struct Series {
        /// The legend label.
        public var name: String
        /// (step, value) pairs.
        public var points: [(x: Double, y: Double)]

        /// A series from its name and points.
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// The curves.
    public var series: [Series]
    /// Text above the plot; empty for none.
    public var title: String
    /// The x axis label.
    public var xLabel: String
    /// The y axis label.
    public var yLabel: String
    /// Whether the y axis is logarithmic (base 10).
    public var logScale: Bool
    /// Whether the x axis is logarithmic (base 10): batch sizes that double, say.
    public var logX: Bool
    /// Ticks at exactly these x values (the batch sizes measured), the axis spanning just them; nil: round ticks.
    public var xTicks: [Double]?
    /// Picture width in pixels.
    public var width: Int
    /// Picture height in pixels.
    public var height: Int

    /// A plot; see the properties for the meaning of each argument.
    public init(series: [Series], title: String = "", xLabel: String = "step", yLabel: String = "loss",
                logScale: Bool = false, logX: Bool = false, xTicks: [Double]? = nil, width: Int = 800, height: Int = 480) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logScale = logScale
        self.logX = logX
        self.xTicks = xTicks
        self.width = width
        self.height = height
    }

    /// The largest magnitude drawn: the axis arithmetic (spans, padding, rounding out to a tick) then
    /// stays far from overflowing a Double; a Float loss never comes near it.
    static let drawableMagnitude = 1e300

    /// Writes the SVG to `path` atomically (temporary file, then rename).
    public func write(to path: String) throws {
        try OutputFile.writeAtomically(Array(svg().utf8), to: path)
    }

    /// The plot as a standalone SVG document.
    public func svg() -> String {
        let left = 72.0, right = 24.0, top = title.isEmpty ? 20.0 : 40.0, bottom = 52.0
        let plotX0 = left, plotX1 = max(Double(width) - right, left + 1)
        let plotY0 = top, plotY1 = max(Double(height) - bottom, top + 1)

        // Each series' drawable points in (x, transformed y), with nil marking a skipped point (a line break).
        let prepared: [(points: [(Double, Double)?], skipped: Int)] = series.map { s in
            var skipped = 0
            let points = s.points.map { p -> (Double, Double)? in
                let x = logX ? (p.x > 0 ? log10(p.x) : .nan) : p.x
                let y = logScale ? (p.y > 0 ? log10(p.y) : .nan) : p.y
                guard abs(x) <= Self.drawableMagnitude, abs(y) <= Self.drawableMagnitude else {
                    skipped += 1
                    return nil
                }
                return (x, y)
            }
            return (points, skipped)
        }
        let all = prepared.flatMap { $0.points.compactMap { $0 } }
        let xAxis = xTicks.flatMap { Axis.at($0, log: logX) }
            ?? (logX ? Axis.logarithmic(all.map(\.0)) : Axis.linear(all.map(\.0)))
        let yAxis = logScale ? Axis.logarithmic(all.map(\.1)) : Axis.linear(all.map(\.1))
        func px(_ x: Double) -> Double { plotX0 + (x - xAxis.low) / (xAxis.high - xAxis.low) * (plotX1 - plotX0) }
        func py(_ y: Double) -> Double { plotY1 - (y - yAxis.low) / (yAxis.high - yAxis.low) * (plotY1 - plotY0) }

        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        if !title.isEmpty {
            out += "<text x=\"\(f((plotX0 + plotX1) / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(HTML.escape(title))</text>\n"
        }
        // Grid lines and tick labels.
        out += "<g stroke=\"#e5e7eb\" stroke-width=\"1\">\n"
        for t in xAxis.ticks { out += "<line x1=\"\(f(px(t.value)))\" y1=\"\(f(plotY0))\" x2=\"\(f(px(t.value)))\" y2=\"\(f(plotY1))\"/>\n" }
        for t in yAxis.ticks { out += "<line x1=\"\(f(plotX0))\" y1=\"\(f(py(t.value)))\" x2=\"\(f(plotX1))\" y2=\"\(f(py(t.value)))\"/>\n" }
        out += "</g>\n<g fill=\"#374151\">\n"
        for t in xAxis.ticks {
            out += "<text x=\"\(f(px(t.value)))\" y=\"\(f(plotY1 + 16))\" text-anchor=\"middle\">\(HTML.escape(t.label))</text>\n"
        }
        for t in yAxis.ticks {
            out += "<text x=\"\(f(plotX0 - 6))\" y=\"\(f(py(t.value) + 4))\" text-anchor=\"end\">\(HTML.escape(t.label))</text>\n"
        }
        let yTitle = logScale ? "\(yLabel) (log scale)" : yLabel
        let xTitle = logX ? "\(xLabel) (log scale)" : xLabel
        out += "<text x=\"\(f((plotX0 + plotX1) / 2))\" y=\"\(f(Double(height) - 12))\" text-anchor=\"middle\">\(HTML.escape(xTitle))</text>\n"
        out += "<text transform=\"translate(16 \(f((plotY0 + plotY1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yTitle))</text>\n"
        out += "</g>\n"
        out += "<rect x=\"\(f(plotX0))\" y=\"\(f(plotY0))\" width=\"\(f(plotX1 - plotX0))\" height=\"\(f(plotY1 - plotY0))\" fill=\"none\" stroke=\"#374151\"/>\n"
        if all.isEmpty {
            out += "<text x=\"\(f((plotX0 + plotX1) / 2))\" y=\"\(f((plotY0 + plotY1) / 2))\" text-anchor=\"middle\" fill=\"#6b7280\">no finite data</text>\n"
        }

        // Curves: a path per series, broken at skipped points; isolated points (such as a
        // one-point series) get a dot, since a path of one point draws nothing.
        for (index, s) in prepared.enumerated() {
            let color = palette[index % palette.count]
            var segments: [[(Double, Double)]] = [[]]
            for p in s.points {
                if let p { segments[segments.count - 1].append((px(p.0), py(p.1))) } else if !segments[segments.count - 1].isEmpty { segments.append([]) }
            }
            let d = segments.filter { $0.count > 1 }.map { seg in
                "M" + seg.map { "\(f($0.0)) \(f($0.1))" }.joined(separator: " L")
            }.joined(separator: " ")
            out += "<g fill=\"\(color)\" stroke=\"\(color)\">\n"
            if !d.isEmpty { out += "<path d=\"\(d)\" fill=\"none\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>\n" }
            for seg in segments where seg.count == 1 {
                out += "<circle cx=\"\(f(seg[0].0))\" cy=\"\(f(seg[0].1))\" r=\"2.5\" stroke=\"none\"/>\n"
            }
            out += "</g>\n"
        }

        // Legend in the top-right corner of the plot area; width estimated from the label lengths.
        let labels = zip(series, prepared).map { s, p in
            p.skipped == 0 ? s.name : "\(s.name) (\(p.skipped) point\(p.skipped == 1 ? "" : "s") not drawn)"
        }
        if !labels.isEmpty {
            let boxWidth = Double(labels.map(\.count).max() ?? 0) * 7 + 36
            let boxX = plotX1 - boxWidth - 8, boxY = plotY0 + 8
            out += "<g>\n<rect x=\"\(f(boxX))\" y=\"\(f(boxY))\" width=\"\(f(boxWidth))\" height=\"\(f(Double(labels.count) * 18 + 8))\" "
            out += "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#d1d5db\"/>\n"
            for (index, label) in labels.enumerated() {
                let y = boxY + 16 + Double(index) * 18
                let color = palette[index % palette.count]
                out += "<line x1=\"\(f(boxX + 8))\" y1=\"\(f(y - 4))\" x2=\"\(f(boxX + 26))\" y2=\"\(f(y - 4))\" stroke=\"\(color)\" stroke-width=\"2.5\"/>\n"
                out += "<text x=\"\(f(boxX + 32))\" y=\"\(f(y))\" fill=\"#111827\">\(HTML.escape(label))</text>\n"
            }
            out += "</g>\n"
        }
        return out + "</svg>\n"
    }
}

/// Distinguishable line colours, cycled through by series index.
private let palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"]

/// An axis's domain (in plotted units: log10 of the value on a log axis) and its labelled ticks.
private struct Axis {
    var low: Double
    var high: Double
    var ticks: [(value: Double, label: String)]

    /// A domain covering `values`, widened outwards to round tick values (1, 2 or 5 times a power of ten).
    static func linear(_ values: [Double]) -> Axis {
        guard var low = values.min(), var high = values.max() else { return linear([0, 1]) }
        if !((high - low) / 5).isNormal {
            // A single value, a flat curve or values a few subnormals apart still need a span; centre it.
            let pad = Swift.max(abs(low) * 0.1, 1)
            low -= pad
            high += pad
        }
        let raw = (high - low) / 5
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / magnitude
        let step = (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * magnitude
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        // Ticks as integer multiples of the step, so they do not accumulate rounding error.
        let values = stride(from: first, through: last, by: 1).map { $0 * step }
        let largest = values.map(abs).max() ?? 0
        let decimals = Swift.max(0, -Int(log10(step).rounded(.down)))
        let scientific = largest >= 1e6 || decimals > 4
        return Axis(low: first * step, high: last * step, ticks: values.map { v in
            (v, scientific ? scientificLabel(v) : String(format: "%.\(decimals)f", v == 0 ? 0 : v))
        })
    }

    /// Ticks at `values` (finite, positive on a log axis), labelled as given, on a domain just wider
    /// than they span; nil when none qualifies.
    static func at(_ values: [Double], log: Bool) -> Axis? {
        let kept = values.filter { $0.isFinite && (!log || $0 > 0) && abs($0) <= LossPlot.drawableMagnitude }.sorted()
        guard let low = kept.first else { return nil }
        let plotted = kept.map { log ? log10($0) : $0 }
        let pad = Swift.max((plotted.last! - plotted.first!) * 0.05, log ? 0.05 : Swift.max(abs(low) * 0.05, 0.5))
        return Axis(low: plotted.first! - pad, high: plotted.last! + pad, ticks: zip(plotted, kept).map { p, v in
            (p, v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : scientificLabel(v))
        })
    }

    /// A domain of whole decades covering `exponents` (log10 of the values), ticked at each decade,
    /// and also at 2x and 5x when there are few decades, so short ranges still get several labels.
    static func logarithmic(_ exponents: [Double]) -> Axis {
        guard let low = exponents.min(), let high = exponents.max() else { return logarithmic([0, 1]) }
        let first = low.rounded(.down)
        let last = Swift.max(high.rounded(.up), first + 1)
        let decadeStep = Swift.max(1, ((last - first) / 8).rounded(.up))
        let multiples: [Double] = last - first <= 2 ? [1, 2, 5] : [1]
        var ticks: [(Double, String)] = []
        for decade in stride(from: first, through: last, by: decadeStep) {
            for m in multiples where decade + log10(m) <= last {
                ticks.append((decade + log10(m), decimalOrScientific(m, exponent: Int(decade))))
            }
        }
        return Axis(low: first, high: last, ticks: ticks)
    }
}

/// `mantissa` x 10^exponent as a plain decimal for moderate exponents ("0.02", "500"), else "2e-7".
private func decimalOrScientific(_ mantissa: Double, exponent: Int) -> String {
    guard (-4...5).contains(exponent) else { return "\(Int(mantissa))e\(exponent)" }
    return String(format: "%.\(Swift.max(0, -exponent))f", mantissa * pow(10, Double(exponent)))
}

/// A short scientific label such as "2.5e6" or "-1e-5", without "+" or leading exponent zeros.
private func scientificLabel(_ v: Double) -> String {
    if v == 0 { return "0" }
    let exponent = Int(log10(abs(v)).rounded(.down))
    var mantissa = String(format: "%.2f", v / pow(10, Double(exponent)))
    while mantissa.hasSuffix("0") { mantissa.removeLast() }
    if mantissa.hasSuffix(".") { mantissa.removeLast() }
    return "\(mantissa)e\(exponent)"
}

/// A coordinate with one decimal, enough for screen pixels and compact.
private func f(_ v: Double) -> String { String(format: "%.1f", v) }

