/// A metrics dictionary as a compact JSON object with sorted keys (non-finite values as null):
/// the `nanoforge.metrics` provenance entry every output format stores.
public enum MetricsJSON {
    public static func encode(_ metrics: [String: Double]) -> String {
        "{" + metrics.keys.sorted().map { key in
            let v = metrics[key]!
            return "\"\(escape(key))\":" + (v.isFinite ? "\(v)" : "null")
        }.joined(separator: ",") + "}"
    }

    /// A JSON string body: quotes, backslashes and control characters escaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
