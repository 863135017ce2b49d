/// What a `mixed_precision` stage decided and how its prediction held up, for `report.json`'s
/// `mixed_precision` object and the HTML page's Pareto chart.
///
/// Loss (`loss`): with bit-width candidates `1 − cosine_mean` between the model's outputs and the
/// outputs before the stage, on the calibration inputs the sensitivities were measured on; with
/// ggml types the mean KL divergence (nats per scored token) to the model before the stage on
/// chunks of the calibration text.
public struct MixedPrecisionReport: Codable, Equatable, Sendable {
    /// One layer's sensitivity: the loss with only this layer quantized, per candidate.
    public struct Sensitivity: Codable, Equatable, Sendable {
        public var layer: String
        /// Candidate bit widths; empty with ggml types (see `types`).
        public var bits: [Int]
        public var loss: [Double]
        public var bytes: [Int]
        /// Candidate ggml types (recipe names), in `loss` order; nil for bit widths.
        public var types: [String]?
        /// Whether each loss was measured (else predicted from the weight error); nil: all measured.
        public var measured: [Bool]?
        /// ‖W − Ŵ‖ / ‖W‖ of each candidate; nil for bit widths.
        public var relativeErrors: [Double]?
        /// Listed ggml types whose blocks do not tile this layer's rows, left out for it.
        public var dropped: [String]?

        public init(layer: String, bits: [Int], loss: [Double], bytes: [Int], types: [String]? = nil, measured: [Bool]? = nil,
                    relativeErrors: [Double]? = nil, dropped: [String]? = nil) {
            self.layer = layer; self.bits = bits; self.loss = loss; self.bytes = bytes
            self.types = types; self.measured = measured; self.relativeErrors = relativeErrors; self.dropped = dropped
        }

        enum CodingKeys: String, CodingKey {
            case layer, bits, loss, bytes, types, measured, dropped
            case relativeErrors = "relative_errors"
        }
    }

    /// A point of the predicted Pareto frontier (selected layers' bytes against predicted loss),
    /// with the measured loss where that allocation was actually applied and evaluated.
    public struct FrontierPoint: Codable, Equatable, Sendable {
        public var bytes: Int
        public var predictedLoss: Double
        public var measuredLoss: Double?
        /// Bits per selected weight: code bits with bit widths, stored bits with ggml types.
        public var averageBits: Double
        /// The whole model's stored bytes and bits per parameter at this point (ggml types).
        public var modelBytes: Int?
        public var modelBitsPerWeight: Double?
        /// Layers per ggml type (recipe names), for applied points (ggml types).
        public var typeCounts: [String: Int]?

        public init(bytes: Int, predictedLoss: Double, measuredLoss: Double?, averageBits: Double, modelBytes: Int? = nil,
                    modelBitsPerWeight: Double? = nil, typeCounts: [String: Int]? = nil) {
            self.bytes = bytes; self.predictedLoss = predictedLoss; self.measuredLoss = measuredLoss; self.averageBits = averageBits
            self.modelBytes = modelBytes; self.modelBitsPerWeight = modelBitsPerWeight; self.typeCounts = typeCounts
        }

        enum CodingKeys: String, CodingKey {
            case bytes, averageBits = "average_bits"
            case predictedLoss = "predicted_loss", measuredLoss = "measured_loss"
            case modelBytes = "model_bytes", modelBitsPerWeight = "model_bits_per_weight", typeCounts = "type_counts"
        }
    }

    /// One (layer, ggml type) pair whose loss was predicted, measured alone afterwards to check
    /// the prediction.
    public struct PredictionCheck: Codable, Equatable, Sendable {
        public var layer: String
        public var type: String
        public var predictedLoss: Double
        public var measuredLoss: Double

        enum CodingKeys: String, CodingKey {
            case layer, type
            case predictedLoss = "predicted_loss", measuredLoss = "measured_loss"
        }
    }

    public var budget: String
    public var sensitivities: [Sensitivity]
    public var frontier: [FrontierPoint]
    /// The chosen allocation: bit width per layer (empty for ggml types, see `typeChoice`).
    public var choice: [String: Int]
    public var chosen: FrontierPoint
    /// Calibration inputs (bit widths) or chunks of calibration text (ggml types) the losses were measured on.
    public var sensitivityInputs: Int
    /// What the loss is: `1 − cosine_mean` (nil, bit widths) or `kl_mean` (ggml types).
    public var loss: String?
    /// Scored tokens each KL measurement averages (ggml types).
    public var sensitivityTokens: Int?
    /// The chosen ggml type per layer (recipe names).
    public var typeChoice: [String: String]?
    /// Predicted pairs measured alone (ggml types).
    public var predictionChecks: [PredictionCheck]?

    public init(budget: String, sensitivities: [Sensitivity], frontier: [FrontierPoint], choice: [String: Int], chosen: FrontierPoint,
                sensitivityInputs: Int, loss: String? = nil, sensitivityTokens: Int? = nil, typeChoice: [String: String]? = nil,
                predictionChecks: [PredictionCheck]? = nil) {
        self.budget = budget; self.sensitivities = sensitivities; self.frontier = frontier; self.choice = choice
        self.chosen = chosen; self.sensitivityInputs = sensitivityInputs; self.loss = loss
        self.sensitivityTokens = sensitivityTokens; self.typeChoice = typeChoice; self.predictionChecks = predictionChecks
    }

    enum CodingKeys: String, CodingKey {
        case budget, sensitivities, frontier, choice, chosen, loss
        case sensitivityInputs = "sensitivity_inputs", sensitivityTokens = "sensitivity_tokens"
        case typeChoice = "type_choice", predictionChecks = "prediction_checks"
    }
}
