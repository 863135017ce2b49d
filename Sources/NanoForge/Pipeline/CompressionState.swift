import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// The model as a pipeline compresses it: a sentence encoder or classifier whose Linear weights
/// hold the dequantized (simulated) values that evaluation runs on, plus the packed form of every
/// quantized layer, for size accounting and output.
public final class CompressionState {
    public var model: EvaluatedModel
    /// Packed weights by layer name (`encoder.layer.0.attention.self.query`, `layers.0`).
    public var quantized: [String: QuantizedTensor] = [:]
    /// Layers held in a ggml block format (a quantize pass with a ggml type), by layer name as
    /// in `quantized`; a layer is in at most one of the two.
    public var ggmlQuantized: [String: GGMLQuantizedTensor] = [:]
    /// The ggml type a recipe asked for, by layer, where the layer's rows are not whole blocks
    /// of it and `ggmlQuantized` holds a fallback type instead (for the report).
    public var ggmlFallbacks: [String: GGUFTensorType] = [:]
    /// Relative weight error ‖W − Ŵ‖ / ‖W‖ of each quantized layer.
    public var weightErrors: [String: Double] = [:]
    /// Static int8 activation quantization of Linear inputs, by layer name.
    public var activationQuantization: [String: ActivationQuantization] = [:]
    /// The full-integer int8 form of a Keras graph (a `quantize` stage on one): what evaluation
    /// runs and the C export writes.
    public var integerCNN: IntegerCNN?
    /// The decisions of a `mixed_precision` stage, for the report.
    public var mixedPrecision: MixedPrecisionReport?
    /// What the current stage's training did (training stages only), for the stage's report.
    public var training: StageReport.Training?

    public init(model: EvaluatedModel) { self.model = model }

    /// (name, Linear) for every Linear layer, in model order.
    public var linearLayers: [(name: String, layer: Linear)] { model.linearLayers }

    /// Stored bytes: packed bytes for quantized layers (their biases stay F32), 4 bytes per
    /// element for everything else.
    /// A full-integer CNN counts its constant tables as the C export stores them (int8 weights,
    /// int32 biases and multipliers, int8 shifts).
    public var sizeBytes: Int {
        if let integerCNN { return integerCNN.flashBytes }
        var bytes = 0
        let quantizedWeights = Set((Array(quantized.keys) + Array(ggmlQuantized.keys)).map { $0 + ".weight" })
        for (name, v) in model.container.namedParameters where !quantizedWeights.contains(name) { bytes += 4 * v.value.count }
        for q in quantized.values { bytes += q.packedByteCount }
        for q in ggmlQuantized.values { bytes += q.byteCount }
        return bytes
    }

    public var parameterCount: Int { model.container.parameterCount }

    /// Share of exactly-zero weights over all Linear weights.
    public var linearSparsity: Double {
        var zeros = 0, total = 0
        for (_, layer) in linearLayers {
            total += layer.weight.value.count
            zeros += layer.weight.value.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        }
        return total > 0 ? Double(zeros) / Double(total) : 0
    }
}
