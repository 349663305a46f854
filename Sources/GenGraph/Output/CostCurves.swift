import Foundation

/// How a model's training step grows with the batch and the threads
/// (`gengraph bench --batch 32,64,128 --threads 1,2 --plot curves.svg`):
/// step time and samples/s against the batch, one curve per execution mode and thread count,
/// drawn as two plots side by side in one SVG.
public struct CostCurves {
    /// One measured configuration.
    public struct Point: Equatable {
        public var mode: String
        public var threads: Int
        public var batch: Int
        /// Images one step takes: the batch times the batches a step draws (a GAN's critic steps).
        public var samplesPerStep: Int
        /// Median step time over the rounds, in milliseconds.
        public var stepMs: Double

        public init(mode: String, threads: Int, batch: Int, samplesPerStep: Int, stepMs: Double) {
            self.mode = mode
            self.threads = threads
            self.batch = batch
            self.samplesPerStep = samplesPerStep
            self.stepMs = stepMs
        }

        public var samplesPerSecond: Double { Double(samplesPerStep) / (stepMs / 1000) }
    }

    public var model: String
    public var points: [Point]

    public init(model: String, points: [Point]) {
        self.model = model
        self.points = points
    }

    /// The curves' names in a stable order: by thread count, then mode.
    var curves: [(mode: String, threads: Int)] {
        var seen: [(mode: String, threads: Int)] = []
        for p in points where !seen.contains(where: { $0.mode == p.mode && $0.threads == p.threads }) {
            seen.append((p.mode, p.threads))
        }
        return seen.sorted { ($0.threads, $0.mode) < ($1.threads, $1.mode) }
    }

    private func series(_ value: (Point) -> Double) -> [LossPlot.Series] {
        curves.map { c in
            let own = points.filter { $0.mode == c.mode && $0.threads == c.threads }.sorted { $0.batch < $1.batch }
            return LossPlot.Series(name: "\(c.mode), \(c.threads) thread\(c.threads == 1 ? "" : "s")",
                                   points: own.map { (x: Double($0.batch), y: value($0)) })
        }
    }

    /// Both plots in one standalone SVG document.
    public func svg() -> String {
        let width = 640, height = 420
        let batches = Array(Set(points.map { Double($0.batch) })).sorted()
        let time = LossPlot(series: series(\.stepMs), title: "\(model): training step time", xLabel: "batch",
                            yLabel: "ms per step", logScale: true, logX: true, xTicks: batches, width: width, height: height)
        let rate = LossPlot(series: series(\.samplesPerSecond),
                            title: "\(model): throughput", xLabel: "batch", yLabel: "samples/s",
                            logX: true, xTicks: batches, width: width, height: height)
        /// A plot's drawing without its XML declaration, so it can nest inside another SVG.
        func body(_ plot: LossPlot) -> String {
            plot.svg().split(separator: "\n", omittingEmptySubsequences: false).drop { $0.hasPrefix("<?xml") }.joined(separator: "\n")
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(2 * width)" height="\(height)" viewBox="0 0 \(2 * width) \(height)">
            \(body(time))<g transform="translate(\(width) 0)">
            \(body(rate))</g>
            </svg>

            """
    }

    /// Writes the SVG to `path` atomically (temporary file, then rename).
    public func write(to path: String) throws {
        try OutputFile.writeAtomically(Array(svg().utf8), to: path)
    }
}
