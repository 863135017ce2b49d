/// What one stage of a run measured: the baseline (the uncompressed model) first, then the model
/// after each stage. Encoded with the snake_case keys of `report.json`; an unknown value is
/// written as `null`, never left out, so every stage object has every key.
public struct StageReport: Codable, Equatable, Sendable {
    /// Latency of one forward pass, median over repeats, in milliseconds.
    public struct Latency: Codable, Equatable, Sendable {
        /// One input.
        public var batch1: Double?
        /// 32 inputs at once.
        public var batch32: Double?

        public init(batch1: Double? = nil, batch32: Double? = nil) { self.batch1 = batch1; self.batch32 = batch32 }

        enum CodingKeys: String, CodingKey { case batch1, batch32 }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(batch1, forKey: .batch1)
            try c.encode(batch32, forKey: .batch32)
        }
    }

    /// The stage's name ("baseline", or the recipe's name for the stage).
    public var name: String
    /// The pass that ran (`quantize`, `prune`, …); `nil` for the baseline.
    public var pass: String?
    /// Evaluation metrics keyed by `MetricKey` raw values (only the tasks that ran).
    public var metrics: [String: Double]
    /// Packed on-disk size of the weights in bytes.
    public var sizeBytes: Int
    /// Number of weights, zeros included (structured pruning lowers it).
    public var parameters: Int
    /// Storage bits per weight: 8 · size_bytes / parameters, scales and zero points included.
    public var bitsPerWeight: Double
    /// Share of weights that are exactly zero, in [0, 1].
    public var sparsity: Double
    public var latencyMs: Latency
    /// The process's peak resident memory (VmHWM) while the stage ran, if known.
    public var peakMemoryBytes: Int?
    /// Wall-clock seconds the stage took (the pass, not the evaluation).
    public var seconds: Double

    public init(name: String, pass: String? = nil, metrics: [String: Double] = [:], sizeBytes: Int, parameters: Int,
                bitsPerWeight: Double? = nil, sparsity: Double = 0, latencyMs: Latency = Latency(), peakMemoryBytes: Int? = nil,
                seconds: Double = 0) {
        self.name = name; self.pass = pass; self.metrics = metrics; self.sizeBytes = sizeBytes; self.parameters = parameters
        self.bitsPerWeight = bitsPerWeight ?? (parameters > 0 ? 8 * Double(sizeBytes) / Double(parameters) : 0)
        self.sparsity = sparsity; self.latencyMs = latencyMs; self.peakMemoryBytes = peakMemoryBytes; self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, pass, metrics
        case sizeBytes = "size_bytes"
        case parameters
        case bitsPerWeight = "bits_per_weight"
        case sparsity
        case latencyMs = "latency_ms"
        case peakMemoryBytes = "peak_memory_bytes"
        case seconds
    }

    /// The JSON keys of a stage object, in the order.
    public static let jsonKeys = CodingKeys.allCases.map(\.rawValue)

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(pass, forKey: .pass)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(sizeBytes, forKey: .sizeBytes)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(bitsPerWeight, forKey: .bitsPerWeight)
        try c.encode(sparsity, forKey: .sparsity)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encode(peakMemoryBytes, forKey: .peakMemoryBytes)
        try c.encode(seconds, forKey: .seconds)
    }
}
