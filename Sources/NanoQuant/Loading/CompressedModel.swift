import NanoModels

/// A compressed model in memory, as the pipeline hands it to the exporters once it has packed
/// the output: what `ModelExporter.source(path:)` would read back from the folder, without
/// reading it.
public struct CompressedModel {
    /// The model as evaluated (quantized layers hold their dequantized weights, activation
    /// quantization installed), its packed layers, ggml block codes and activation quantization,
    /// and the store as written to `model.safetensors` (provenance metadata included).
    public let packed: PackedModel
    /// The WordPiece vocabulary (`vocab.txt` order) of a sentence encoder; nil for other families.
    public let vocabulary: [String]?
    /// The byte-level BPE tokenizer of a Llama-family model (written as `tokenizer.json`); nil for
    /// other families.
    public let tokenizer: ByteLevelBPETokenizer?
    /// The full-integer int8 form of a Keras convolutional graph that a `quantize` stage built and
    /// evaluation measured; the C export writes exactly this model. Nil for other models.
    public let integerCNN: IntegerCNN?

    public init(packed: PackedModel, vocabulary: [String]?, tokenizer: ByteLevelBPETokenizer? = nil, integerCNN: IntegerCNN? = nil) {
        self.packed = packed
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self.integerCNN = integerCNN
    }
}
