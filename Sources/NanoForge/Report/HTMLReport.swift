/// `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external assets)
/// with a chart of each metric against size across the stages, the stages and metrics tables,
/// and the per-layer table.
public enum HTMLReport {
    public static func render(_ report: CompressionReport) -> String {
        var body = "<h1>\(ReportFormat.escapeHTML(report.recipe))</h1>\n"
        body += "<p>Model: <code>\(ReportFormat.escapeHTML(report.model))</code></p>\n"
        let charts = self.charts(report)
        if !charts.isEmpty {
            body += "<h2>Metrics against size</h2>\n<div class=\"charts\">\n"
            body += charts.map { $0.render() }.joined(separator: "\n") + "\n</div>\n"
        }
        body += "<h2>Stages</h2>\n"
        body += ReportFormat.htmlTable(header: MarkdownReport.stageHeader, rows: report.stages.map(MarkdownReport.stageRow),
                                       className: "stages")
        let keys = report.metricKeys
        if !keys.isEmpty {
            body += "<h2>Metrics</h2>\n"
            body += ReportFormat.htmlTable(header: ["stage"] + keys, rows: MarkdownReport.metricRows(report, keys: keys),
                                           className: "metrics")
        }
        body += "<h2>Layers</h2>\n"
        body += report.layers.isEmpty ? "<p>No per-layer details.</p>\n"
            : ReportFormat.htmlTable(header: MarkdownReport.layerHeader, rows: report.layers.map(MarkdownReport.layerRow),
                                     className: "layers")
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
