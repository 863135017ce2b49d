import Foundation
import NanoCheckpoint

/// Several runs side by side, for `nanoforge compare OUT1 OUT2 …`: each run is represented by its
/// report's last stage (the fully compressed model), labelled with the recipe name (and the
/// folder when two runs share a recipe name).
public struct Comparison: Equatable, Sendable {
    public struct Run: Equatable, Sendable {
        /// The name shown in tables and legends.
        public var label: String
        /// Where the report was read from.
        public var source: String
        public var report: CompressionReport
        /// The last stage, or nil for a report without stages.
        public var final: StageReport? { report.stages.last }
    }

    public var runs: [Run]

    /// Runs from reports already in memory; `sources` parallel to `reports` (folder names).
    public init(reports: [CompressionReport], sources: [String]) {
        precondition(reports.count == sources.count, "Comparison: \(reports.count) reports for \(sources.count) sources")
        let counts = Dictionary(reports.map { ($0.recipe, 1) }, uniquingKeysWith: +)
        runs = zip(reports, sources).map { report, source in
            let label = (counts[report.recipe] ?? 0) > 1 ? "\(report.recipe) (\(source))" : report.recipe
            return Run(label: label, source: source, report: report)
        }
    }

    /// Reads `report.json` from each output folder (or JSON file), in the order given.
    public static func read(_ paths: [String]) throws -> Comparison {
        guard !paths.isEmpty else { throw ReportError.noReports }
        return Comparison(reports: try paths.map(CompressionReport.read(from:)), sources: paths)
    }

    /// Metric keys any run's final stage reports, in `MetricKey` order then sorted.
    public var metricKeys: [String] {
        let present = Set(runs.compactMap(\.final).flatMap(\.metrics.keys))
        let known = MetricKey.allCases.map(\.rawValue).filter(present.contains)
        return known + present.subtracting(known).sorted()
    }

    /// One row per run: model, final size, bits/weight, sparsity, latency, then the metrics.
    public func markdown() -> String {
        var s = "# Comparison of \(runs.count) runs\n\n"
        s += ReportFormat.markdownTable(header: header, rows: rows)
        return s
    }

    /// A self-contained page: one chart per metric with one point per run against size, then the table.
    public func html() -> String {
        var body = "<h1>Comparison of \(runs.count) runs</h1>\n<div class=\"charts\">\n"
        body += charts().map { $0.render() }.joined(separator: "\n") + "\n</div>\n"
        body += ReportFormat.htmlTable(header: header, rows: rows, className: "comparison")
        return HTMLReport.page(title: "nanoforge comparison", body: body)
    }

    /// Writes `comparison.md` and `comparison.html` into `folder`, atomically; returns their paths.
    @discardableResult
    public func write(to folder: String) throws -> [String] {
        try [("comparison.md", markdown()), ("comparison.html", html())].map { name, text in
            let path = (folder as NSString).appendingPathComponent(name)
            try AtomicFile.write(Data(text.utf8), to: path)
            return path
        }
    }

    /// One unconnected chart per metric, a point for each run whose final stage reports it.
    public func charts() -> [SVGChart] {
        metricKeys.map { key in
            SVGChart(title: key, xLabel: "size (bytes on disk)", yLabel: key,
                     points: runs.compactMap { run in
                         guard let stage = run.final, let y = stage.metrics[key] else { return nil }
                         return SVGChart.Point(x: Double(stage.sizeBytes), y: y, label: run.label)
                     },
                     connected: false)
        }
    }

    var header: [String] {
        ["run", "model", "size", "bits/weight", "sparsity", "latency b1 (ms)", "latency b32 (ms)"] + metricKeys
    }

    var rows: [[String]] {
        let keys = metricKeys
        return runs.map { run in
            guard let stage = run.final else { return [run.label, run.report.model] + Array(repeating: "–", count: 5 + keys.count) }
            return [run.label, run.report.model, ReportFormat.bytes(Double(stage.sizeBytes)), String(format: "%.2f", stage.bitsPerWeight),
                    ReportFormat.percent(stage.sparsity), ReportFormat.number(stage.latencyMs.batch1),
                    ReportFormat.number(stage.latencyMs.batch32)] + keys.map { ReportFormat.number(stage.metrics[$0]) }
        }
    }
}
