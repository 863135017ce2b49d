/// `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external assets)
/// with a chart of each metric against size across the stages, the stages and metrics tables,
/// and the per-layer table.
public enum HTMLReport {
    public static func render(_ report: CompressionReport) -> String {
        var body = "<h1>\(ReportFormat.escapeHTML(report.recipe))</h1>\n"
        body += "<p>Model: <code>\(ReportFormat.escapeHTML(report.model))</code></p>\n"
        if let kernels = report.kernels { body += "<p>Kernel set: <code>\(ReportFormat.escapeHTML(kernels))</code></p>\n" }
        let charts = self.charts(report)
        if !charts.isEmpty {
            body += "<h2>Metrics against size</h2>\n<div class=\"charts\">\n"
            body += charts.map { $0.render() }.joined(separator: "\n") + "\n</div>\n"
        }
        body += "<h2>Stages</h2>\n"
        body += ReportFormat.htmlTable(header: MarkdownReport.stageHeader(report), rows: MarkdownReport.stageRows(report),
                                       className: "stages")
        let keys = report.metricKeys
        if !keys.isEmpty {
            body += "<h2>Metrics</h2>\n"
            body += ReportFormat.htmlTable(header: ["stage"] + keys, rows: MarkdownReport.metricRows(report, keys: keys),
                                           className: "metrics")
        }
        if let mp = report.mixedPrecision {
            body += "<h2>Mixed precision</h2>\n<p>\(ReportFormat.escapeHTML(MixedPrecisionTables.summary(mp)))</p>\n<div class=\"charts\">\n"
            body += mixedPrecisionCharts(mp).map { $0.render() }.joined(separator: "\n") + "\n</div>\n"
            body += MixedPrecisionTables.html(mp)
        }
        body += "<h2>Layers</h2>\n"
        body += report.layers.isEmpty ? "<p>No per-layer details.</p>\n"
            : ReportFormat.htmlTable(header: MarkdownReport.layerHeader, rows: report.layers.map(MarkdownReport.layerRow),
                                     className: "layers")
        if let note = MarkdownReport.ggmlFallbackNote(report.layers) { body += "<p>\(ReportFormat.escapeHTML(note))</p>\n" }
        return page(title: "nanoforge report: \(report.recipe)", body: body)
    }

    /// One chart per metric: its value against `size_bytes`, one point per stage that reports
    /// it, joined in stage order.
    public static func charts(_ report: CompressionReport) -> [SVGChart] {
        report.metricKeys.map { key in
            SVGChart(title: key, xLabel: "size (bytes on disk)", yLabel: key,
                     points: report.stages.compactMap { stage in
                         stage.metrics[key].map { SVGChart.Point(x: Double(stage.sizeBytes), y: $0, label: stage.name) }
                     })
        }
    }

    /// The predicted Pareto frontier of a mixed-precision stage (at most 12 of its points, evenly
    /// spaced, for a readable legend) and the points that were applied and measured.
    static func mixedPrecisionCharts(_ mp: MixedPrecisionReport) -> [SVGChart] {
        let step = max(1, (mp.frontier.count + 11) / 12)
        let sampled = stride(from: 0, to: mp.frontier.count, by: step).map { mp.frontier[$0] }
        let predicted = SVGChart(title: "Pareto frontier (predicted)", xLabel: "selected layers' bytes", yLabel: "predicted loss",
                                 points: sampled.map { .init(x: Double($0.bytes), y: $0.predictedLoss,
                                                             label: String(format: "%.2f bits", $0.averageBits)) })
        let measured = SVGChart(title: "measured at applied points", xLabel: "selected layers' bytes", yLabel: "measured loss",
                                points: mp.frontier.compactMap { p in p.measuredLoss.map {
                                    .init(x: Double(p.bytes), y: $0, label: String(format: "predicted %.4f, measured %.4f", p.predictedLoss, $0))
                                } }, connected: false)
        return [predicted, measured]
    }

    /// A complete HTML document with the shared inline style sheet.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(ReportFormat.escapeHTML(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
        th { background: #f3f3f3; }
        td:first-child, th:first-child { text-align: left; }
        code { background: #f3f3f3; padding: 1px 4px; }
        .charts { display: flex; flex-wrap: wrap; gap: 16px; }
        .chart { border: 1px solid #ddd; background: #fff; }
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }
}
