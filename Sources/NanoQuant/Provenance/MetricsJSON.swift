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
}
