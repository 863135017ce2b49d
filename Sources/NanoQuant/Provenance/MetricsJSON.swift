import NanoCheckpoint

/// A metrics dictionary as a compact JSON object with sorted keys (non-finite values as null):
/// the `nanoforge.metrics` provenance entry every output format stores.
public enum MetricsJSON {
    public static func encode(_ metrics: [String: Double]) -> String {
        "{" + metrics.keys.sorted().map { key in
            let v = metrics[key]!
            return JSONValue.quote(key) + ":" + (v.isFinite ? "\(v)" : "null")
        }.joined(separator: ",") + "}"
    }

    /// The metrics of an `encode`d object (null as NaN, so encoding again gives the same text);
    /// nil when `text` is not a JSON object of numbers and nulls.
    public static func decode(_ text: String) -> [String: Double]? {
        guard let root = try? JSONParser.parse(Array(text.utf8)), let members = root.members else { return nil }
        var metrics: [String: Double] = [:]
        for (key, value) in members {
            switch value {
            case .number(let v): metrics[key] = v
            case .null: metrics[key] = .nan
            default: return nil
            }
        }
        return metrics
    }
}
