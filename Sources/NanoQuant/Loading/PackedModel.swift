import NanoCheckpoint
import NanoModels

/// A model loaded from a plain or packed checkpoint: the model with quantized layers holding
/// their dequantized weights, the `QuantizedTensor` of each quantized layer, and the store as
/// read (companion tensors and metadata).
public struct PackedModel {
    public let model: LoadedModel
    /// By layer name without `.weight`; empty for a plain checkpoint.
    public let quantized: [String: QuantizedTensor]
    /// Layers held as ggml block codes (`GGMLCheckpoint`), by layer name without `.weight`; the
    /// model's weights are their decoded values.
    public let ggmlQuantized: [String: GGMLQuantizedTensor]
    /// The checkpoint as stored.
    public let store: TensorStore
    /// Static input quantization of Linear layers (`nanoforge.activations`), already installed
    /// on the model's layers.
    public let activations: [String: ActivationQuantization]

    /// A packed model from its parts (the pipeline's, in memory); `load(path:)` reads one.
    public init(model: LoadedModel, quantized: [String: QuantizedTensor], ggmlQuantized: [String: GGMLQuantizedTensor] = [:],
                store: TensorStore, activations: [String: ActivationQuantization]) {
        self.model = model
        self.quantized = quantized
        self.ggmlQuantized = ggmlQuantized
        self.store = store
        self.activations = activations
    }

    /// A model folder or weights file, as `ModelLoader.load(path:)` takes, packed or not.
    public static func load(path: String) throws -> PackedModel {
        let (weights, configPath) = try ModelLoader.locateWeights(path)
        let stored = try CheckpointReader.read(path: weights)
        let (plain, ggml) = try GGMLCheckpoint.unpack(stored)
        let (dense, quantized) = try PackedCheckpoint.unpack(plain)
        let model = try ModelLoader.load(store: dense, configPath: configPath)
        let activations = try ActivationMetadata.decode(stored)
        try ActivationMetadata.install(activations, on: model, file: weights)
        return PackedModel(model: model, quantized: quantized, ggmlQuantized: ggml, store: stored, activations: activations)
    }
}
