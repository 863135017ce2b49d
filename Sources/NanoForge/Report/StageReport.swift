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
    /// The training of a training stage (`distill`, `qat`, `prune` with a schedule); nil otherwise.
    public var training: Training?
    /// A full-integer CNN's constant tables in bytes, as its C export's `model.h` states them
    /// (`FLASH_BYTES`); nil for a model that has no integer form (yet).
    public var flashBytes: Int?
    /// A full-integer CNN's activation arena in bytes, `model.h`'s `RAM_BYTES`; nil otherwise.
    public var ramBytes: Int?

    public init(name: String, pass: String? = nil, metrics: [String: Double] = [:], sizeBytes: Int, parameters: Int,
                bitsPerWeight: Double? = nil, sparsity: Double = 0, latencyMs: Latency = Latency(), peakMemoryBytes: Int? = nil,
                seconds: Double = 0, training: Training? = nil, flashBytes: Int? = nil, ramBytes: Int? = nil) {
        self.name = name; self.pass = pass; self.metrics = metrics; self.sizeBytes = sizeBytes; self.parameters = parameters
        self.bitsPerWeight = bitsPerWeight ?? (parameters > 0 ? 8 * Double(sizeBytes) / Double(parameters) : 0)
        self.sparsity = sparsity; self.latencyMs = latencyMs; self.peakMemoryBytes = peakMemoryBytes; self.seconds = seconds
        self.training = training; self.flashBytes = flashBytes; self.ramBytes = ramBytes
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
        case training
        case flashBytes = "flash_bytes"
        case ramBytes = "ram_bytes"
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
        try c.encode(training, forKey: .training)
        try c.encode(flashBytes, forKey: .flashBytes)
        try c.encode(ramBytes, forKey: .ramBytes)
    }
}

extension StageReport {
    /// What a training stage's loop did: its steps and its loss at the start and the end (each
    /// the mean over up to 10 steps), so the report shows that training lowered the loss.
    public struct Training: Codable, Equatable, Sendable {
        /// Steps done in all, resumed ones included.
        public var steps: Int
        /// Mean loss of this run's first (up to 10) steps; after a resume, of the steps it ran.
        public var firstLoss: Double
        /// Mean loss of the last (up to 10) steps.
        public var finalLoss: Double
        /// The step a resumed run continued from.
        public var resumedFrom: Int?
        /// The loss of every step this run trained (after a resume, from `resumedFrom` on).
        public var losses: [Double]

        public init(steps: Int, firstLoss: Double, finalLoss: Double, resumedFrom: Int? = nil, losses: [Double] = []) {
            self.steps = steps; self.firstLoss = firstLoss; self.finalLoss = finalLoss; self.resumedFrom = resumedFrom
            self.losses = losses
        }

        public init(_ result: TrainingLoop.Result) {
            self.init(steps: result.steps, firstLoss: Double(result.initialLoss), finalLoss: Double(result.finalLoss),
                      resumedFrom: result.resumedFrom, losses: result.losses.map(Double.init))
        }

        enum CodingKeys: String, CodingKey {
            case steps
            case firstLoss = "first_loss"
            case finalLoss = "final_loss"
            case resumedFrom = "resumed_from"
            case losses
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(steps, forKey: .steps)
            try c.encode(firstLoss, forKey: .firstLoss)
            try c.encode(finalLoss, forKey: .finalLoss)
            try c.encode(resumedFrom, forKey: .resumedFrom)
            try c.encode(losses, forKey: .losses)
        }
    }
}
