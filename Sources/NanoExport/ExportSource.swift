import NanoCheckpoint
import NanoQuant
import NanoModels

/// What every exporter starts from: a compressed model as nanoforge evaluated it, the packed form
/// of its quantized layers, and the provenance each format records in its own metadata.
public struct ExportSource {
    /// The model with the weights nanoforge evaluates (quantized layers hold their dequantized
    /// values); pruned models carry their shrunken shapes.
    public var model: LoadedModel
    /// WordPiece vocabulary of a sentence encoder (`vocab.txt` order), nil for other families.
    public var vocabulary: [String]?
    /// Packed form of each quantized Linear layer, keyed by layer name without `.weight`
    /// (`encoder.layer.0.attention.self.query`, `layers.0`, `blocks.0.attn.q_proj`).
    public var quantized: [String: QuantizedTensor]
    /// Layers held as ggml block codes (the bytes nanoforge evaluated), keyed like `quantized`
    /// (embedding tables included: `model.embed_tokens`); GGUF export writes them as they are.
    public var ggmlQuantized: [String: GGMLQuantizedTensor]
    /// The byte-level BPE tokenizer of a Llama-family model, nil for other families; GGUF export
    /// writes it as `tokenizer.ggml.*` and `tokenizer.chat_template`.
    public var tokenizer: ByteLevelBPETokenizer?
    /// Static int8 input quantization of Linear layers, keyed like `quantized`.
    public var activations: [String: ActivationQuantization]
    /// The full-integer form of a Keras graph that a recipe's `quantize` stage built and measured
    /// (`CompressedModel.integerCNN`); the C export writes it as it is instead of calibrating anew.
    public var integerCNN: IntegerCNN?
    public var provenance: Provenance

    public init(model: LoadedModel, vocabulary: [String]? = nil, quantized: [String: QuantizedTensor] = [:],
                ggmlQuantized: [String: GGMLQuantizedTensor] = [:], tokenizer: ByteLevelBPETokenizer? = nil,
                activations: [String: ActivationQuantization] = [:], provenance: Provenance) {
        self.model = model
        self.vocabulary = vocabulary
        self.quantized = quantized
        self.ggmlQuantized = ggmlQuantized
        self.tokenizer = tokenizer
        self.activations = activations
        self.provenance = provenance
    }
}

/// Where an exported model came from. Every format stores these four facts in its own metadata
/// mechanism (safetensors `__metadata__`, ONNX `metadata_props`, GGUF `nanoforge.*` keys, C comments).
public struct Provenance: Equatable, Sendable {
    /// The recipe text the model was compressed with ("" when exported without one).
    public var recipe: String
    /// SHA-256 (lower-case hex) of the source checkpoint's weight file.
    public var sourceSHA256: String
    /// The nanoforge version that wrote the file.
    public var version: String
    /// The final stage's metrics (`cosine_mean`, `retrieval_top1`, …).
    public var metrics: [String: Double]

    public init(recipe: String, sourceSHA256: String, version: String = NanoForgeVersion.string, metrics: [String: Double] = [:]) {
        self.recipe = recipe
        self.sourceSHA256 = sourceSHA256
        self.version = version
        self.metrics = metrics
    }

    /// The keys and string values as the formats store them (`nanoforge.recipe`, `nanoforge.source_sha256`,
    /// `nanoforge.version`, `nanoforge.metrics` as a JSON object with sorted keys).
    public var keyValues: [(key: String, value: String)] {
        let metricsJSON = MetricsJSON.encode(metrics)
        return [("nanoforge.recipe", recipe), ("nanoforge.source_sha256", sourceSHA256),
                ("nanoforge.version", version), ("nanoforge.metrics", metricsJSON)]
    }
}
