/// What compression did to one layer's weight, after the last stage. Encoded with the snake_case
/// keys of `report.json`'s `layers` objects; unknown values are `null`.
public struct LayerReport: Codable, Equatable, Sendable {
    /// The checkpoint's parameter name (`encoder.layer.0.attention.self.query.weight`).
    public var name: String
    /// The layer kind (`Linear`, `Embedding`).
    public var kind: String
    /// The weight's shape after compression (structured pruning shrinks it).
    public var shape: [Int]
    /// Quantized bits per weight; `nil` when the weight stays floating point.
    public var bits: Int?
    /// Weights sharing one scale; `nil` for per-tensor or per-channel scales, or no quantization.
    public var groupSize: Int?
    /// Share of exactly zero weights, in [0, 1].
    public var sparsity: Double
    /// ‖W − Ŵ‖ / ‖W‖ (Frobenius) between the original and the compressed weight.
    public var relativeWeightError: Double?
    /// ‖Y − Ŷ‖ / ‖Y‖ with Y the original layer's outputs and Ŷ the compressed layer's (input
    /// quantization included), both on the inputs the compressed model gives the layer on the
    /// calibration data; `nil` without calibration data or when the shape changed.
    public var relativeOutputError: Double?
    /// Bits of the static input (activation) quantization; `nil` when inputs stay floating point.
    public var activationBits: Int?
    /// The ggml block type holding the weight (`Q4_K`), when a quantize pass with `ggml_type` chose it.
    public var ggmlType: String?
    /// The ggml type the recipe asked for when `ggmlType` is its fallback (the rows are not whole
    /// blocks of it); nil otherwise.
    public var ggmlFallbackFrom: String?

    public init(name: String, kind: String, shape: [Int], bits: Int? = nil, groupSize: Int? = nil, sparsity: Double = 0,
                relativeWeightError: Double? = nil, relativeOutputError: Double? = nil, activationBits: Int? = nil,
                ggmlType: String? = nil, ggmlFallbackFrom: String? = nil) {
        self.name = name; self.kind = kind; self.shape = shape; self.bits = bits; self.groupSize = groupSize
        self.sparsity = sparsity; self.relativeWeightError = relativeWeightError; self.relativeOutputError = relativeOutputError
        self.activationBits = activationBits; self.ggmlType = ggmlType; self.ggmlFallbackFrom = ggmlFallbackFrom
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, shape, bits
        case groupSize = "group_size"
        case sparsity
        case relativeWeightError = "relative_weight_error"
        case relativeOutputError = "relative_output_error"
        case activationBits = "activation_bits"
        case ggmlType = "ggml_type"
        case ggmlFallbackFrom = "ggml_fallback_from"
    }

    /// The JSON keys of a layer object, in the order.
    public static let jsonKeys = CodingKeys.allCases.map(\.rawValue)

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(shape, forKey: .shape)
        try c.encode(bits, forKey: .bits)
        try c.encode(groupSize, forKey: .groupSize)
        try c.encode(sparsity, forKey: .sparsity)
        try c.encode(relativeWeightError, forKey: .relativeWeightError)
        try c.encode(relativeOutputError, forKey: .relativeOutputError)
        try c.encode(activationBits, forKey: .activationBits)
        try c.encode(ggmlType, forKey: .ggmlType)
        try c.encode(ggmlFallbackFrom, forKey: .ggmlFallbackFrom)
    }
}
