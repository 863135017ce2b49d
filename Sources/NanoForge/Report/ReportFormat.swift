import Foundation

/// Number and text formatting shared by the Markdown and HTML writers.
public enum ReportFormat {
    /// Bytes with a binary-free decimal unit: "812 B", "4.2 kB", "21.4 MB", "1.2 GB".
    @Sendable public static func bytes(_ value: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = value, unit = 0
        while abs(v) >= 1000 && unit < units.count - 1 { v /= 1000; unit += 1 }
        return unit == 0 ? String(format: "%.0f B", v) : String(format: "%.1f %@", v, units[unit])
    }

    /// A metric or measurement: up to four significant decimals, "–" for nil, "NaN"/"inf" spelled out.
    public static func number(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded() && abs(value) < 1e9 { return String(format: "%.0f", value) }
        if abs(value) >= 100 { return String(format: "%.1f", value) }
        return String(format: "%.4f", value)
    }

    /// A share in [0, 1] as a percentage with one decimal.
    public static func percent(_ value: Double) -> String { String(format: "%.1f %%", 100 * value) }

    /// Text safe inside HTML elements and attribute values.
    public static func escapeHTML(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Text safe inside a Markdown table cell (pipes escaped, newlines flattened).
    public static func escapeMarkdownCell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    /// A Markdown table: header row, separator, one row per entry.
    public static func markdownTable(header: [String], rows: [[String]]) -> String {
        var s = "| " + header.map(escapeMarkdownCell).joined(separator: " | ") + " |\n"
        s += "|" + header.map { _ in " --- |" }.joined() + "\n"
        for row in rows { s += "| " + row.map(escapeMarkdownCell).joined(separator: " | ") + " |\n" }
        return s
    }

    /// An HTML table with a header row; cells are escaped here.
    public static func htmlTable(header: [String], rows: [[String]], className: String) -> String {
        var s = "<table class=\"\(className)\">\n<thead><tr>" + header.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows { s += "<tr>" + row.map { "<td>\(escapeHTML($0))</td>" }.joined() + "</tr>\n" }
        return s + "</tbody>\n</table>\n"
    }
}
