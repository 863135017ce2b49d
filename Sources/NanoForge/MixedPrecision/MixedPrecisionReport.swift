/// What a `mixed_precision` stage decided and how its prediction held up, for `report.json`'s
/// `mixed_precision` object and the HTML page's Pareto chart.
///
/// Loss is `1 − cosine_mean` between the model's outputs and the outputs before the stage, on the
/// calibration inputs the sensitivities were measured on.
public struct MixedPrecisionReport: Codable, Equatable, Sendable {
    /// One layer's measured sensitivity: the loss with only this layer quantized, per candidate.
    public struct Sensitivity: Codable, Equatable, Sendable {
        public var layer: String
        public var bits: [Int]
        public var loss: [Double]
        public var bytes: [Int]
    }

    /// A point of the predicted Pareto frontier (selected layers' bytes against predicted loss),
    /// with the measured loss where that allocation was actually applied and evaluated.
    public struct FrontierPoint: Codable, Equatable, Sendable {
        public var bytes: Int
        public var predictedLoss: Double
        public var measuredLoss: Double?
        public var averageBits: Double

        enum CodingKeys: String, CodingKey {
            case bytes, averageBits = "average_bits"
            case predictedLoss = "predicted_loss", measuredLoss = "measured_loss"
        }
    }

    public var budget: String
    public var sensitivities: [Sensitivity]
    public var frontier: [FrontierPoint]
    /// The chosen allocation: bit width per layer, in layer order.
    public var choice: [String: Int]
    public var chosen: FrontierPoint
    public var sensitivityInputs: Int

    enum CodingKeys: String, CodingKey {
        case budget, sensitivities, frontier, choice, chosen
        case sensitivityInputs = "sensitivity_inputs"
    }
}
