import Foundation

/// A small self-contained SVG line chart: points connected in the given order, both axes with
/// ticks and labels, and a legend naming every point. Used by the report (one chart per metric,
/// one point per stage) and by `Comparison` (one point per run).
public struct SVGChart: Sendable {
    public struct Point: Equatable, Sendable {
        public var x: Double
        public var y: Double
        /// The legend's name for the point (a stage or a run).
        public var label: String
        public init(x: Double, y: Double, label: String) { self.x = x; self.y = y; self.label = label }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var points: [Point]
    /// Whether a line joins the points in order (stages), or they stand alone (runs).
    public var connected: Bool
    /// Formats x tick labels (sizes as "21.4 MB" by default).
    public var formatX: @Sendable (Double) -> String

    public init(title: String, xLabel: String, yLabel: String, points: [Point], connected: Bool = true,
                formatX: @escaping @Sendable (Double) -> String = ReportFormat.bytes) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.points = points
        self.connected = connected; self.formatX = formatX
    }

    /// Colours for points, in order; repeated past the end.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    /// The `<svg>` element. Only finite points are drawn; each is a `<circle class="point">`.
    public func render(width: Int = 420, height: Int = 280) -> String {
        let shown = points.filter { $0.x.isFinite && $0.y.isFinite }
        let legendHeight = 16 * shown.count + 8
        let left = 64.0, right = 36.0, top = 28.0, bottom = 44.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let xs = SVGChart.ticks(shown.map(\.x)), ys = SVGChart.ticks(shown.map(\.y))
        func px(_ x: Double) -> Double { left + (x - xs.low) / (xs.high - xs.low) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - ys.low) / (ys.high - ys.low) * plotH }
        var s = "<svg class=\"chart\" width=\"\(width)\" height=\"\(height + legendHeight)\" "
        s += "viewBox=\"0 0 \(width) \(height + legendHeight)\" role=\"img\" aria-label=\"\(ReportFormat.escapeHTML(title))\">\n"
        s += "<text x=\"\(width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(ReportFormat.escapeHTML(title))</text>\n"
        // Axes and grid.
        s += "<g class=\"axes\" font-size=\"10\" fill=\"#333\">\n"
        for t in ys.values {
            let y = f(py(t))
            s += "<line x1=\"\(f(left))\" y1=\"\(y)\" x2=\"\(f(left + plotW))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(SVGChart.tickLabel(t, step: ys.values.count > 1 ? ys.values[1] - ys.values[0] : 1))</text>\n"
        }
        for t in xs.values {
            let x = f(px(t))
            s += "<line x1=\"\(x)\" y1=\"\(f(top + plotH))\" x2=\"\(x)\" y2=\"\(f(top + plotH + 4))\" stroke=\"#333\"/>"
            s += "<text x=\"\(x)\" y=\"\(f(top + plotH + 15))\" text-anchor=\"middle\">\(ReportFormat.escapeHTML(formatX(t)))</text>\n"
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"#333\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 34))\" text-anchor=\"middle\" font-size=\"11\">\(ReportFormat.escapeHTML(xLabel))</text>\n"
        s += "<text x=\"14\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" font-size=\"11\" transform=\"rotate(-90 14 \(f(top + plotH / 2)))\">\(ReportFormat.escapeHTML(yLabel))</text>\n"
        s += "</g>\n"
        if connected && shown.count > 1 {
            let path = shown.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            s += "<polyline class=\"series\" points=\"\(path)\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\"/>\n"
        }
        for (i, p) in shown.enumerated() {
            let color = SVGChart.palette[i % SVGChart.palette.count]
            s += "<circle class=\"point\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"4.5\" fill=\"\(color)\" stroke=\"#fff\">"
            s += "<title>\(ReportFormat.escapeHTML(p.label)): \(ReportFormat.number(p.y)) at \(ReportFormat.escapeHTML(formatX(p.x)))</title></circle>"
            s += "<text x=\"\(f(px(p.x) + 6))\" y=\"\(f(py(p.y) - 6))\" font-size=\"10\" fill=\"\(color)\">\(i + 1)</text>\n"
        }
        // Legend below the plot: number, colour, label.
        s += "<g class=\"legend\" font-size=\"11\">\n"
        for (i, p) in shown.enumerated() {
            let y = Double(height) + 16 * Double(i) + 4
            let color = SVGChart.palette[i % SVGChart.palette.count]
            s += "<circle cx=\"\(f(left + 4))\" cy=\"\(f(y))\" r=\"4.5\" fill=\"\(color)\"/>"
            s += "<text x=\"\(f(left + 14))\" y=\"\(f(y))\" dominant-baseline=\"middle\">\(i + 1). \(ReportFormat.escapeHTML(p.label)): \(ReportFormat.number(p.y))</text>\n"
        }
        return s + "</g>\n</svg>"
    }

    /// A y tick with as many decimals as the tick step needs, so all ticks of an axis line up.
    static func tickLabel(_ value: Double, step: Double) -> String {
        let decimals = step > 0 ? min(8, max(0, Int(-floor(log10(step) + 1e-9)))) : 0
        return String(format: "%.\(decimals)f", value)
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// About five round tick values covering `values`, and the axis range they span. A single
    /// value (or none) gets a range around it so it sits mid-axis.
    static func ticks(_ values: [Double]) -> (low: Double, high: Double, values: [Double]) {
        var low = values.min() ?? 0, high = values.max() ?? 1
        if high - low < 1e-12 * max(1, abs(high)) {
            let pad = abs(high) > 0 ? abs(high) * 0.05 : 1
            low -= pad; high += pad
        }
        let rough = (high - low) / 5
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = floor(low / step) * step, last = ceil(high / step) * step
        var ticks: [Double] = []
        var t = first
        while t <= last + step / 2 && ticks.count < 20 { ticks.append(t); t += step }
        return (first, last, ticks)
    }
}
