import NanoModels
import NanoTensor

/// The model as a pipeline compresses it: a sentence encoder whose Linear weights hold the
/// dequantized (simulated) values that evaluation runs on, plus the packed form of every
/// quantized layer and the mask of every pruned one, for size accounting and output.
public final class CompressionState {
    public var model: SentenceEncoder
    /// Packed weights by layer name (`encoder.layer.0.attention.self.query`).
    public var quantized: [String: QuantizedTensor] = [:]
    /// Relative weight error ‖W − Ŵ‖ / ‖W‖ of each quantized layer.
    public var weightErrors: [String: Double] = [:]

    public init(model: SentenceEncoder) { self.model = model }

    /// (name, Linear) for every Linear layer, in model order.
    public var linearLayers: [(name: String, layer: Linear)] { NanoForge.linearLayers(of: model.encoder) }

    /// Stored bytes: packed bytes for quantized layers (their biases stay F32), 4 bytes per
    /// element for everything else.
    public var sizeBytes: Int {
        var bytes = 0
        let quantizedWeights = Set(quantized.keys.map { $0 + ".weight" })
        for (name, v) in model.encoder.namedParameters where !quantizedWeights.contains(name) { bytes += 4 * v.value.count }
        for q in quantized.values { bytes += q.packedByteCount }
        return bytes
    }

    public var parameterCount: Int { model.encoder.parameterCount }

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
