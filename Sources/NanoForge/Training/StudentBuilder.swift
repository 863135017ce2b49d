import NanoCheckpoint
import NanoModels
import NanoTensor

/// Builds a distillation student: a shrunk copy of a BERT teacher (DistilBERT-style layer
/// selection, then the structured-pruning importance to keep the strongest feed-forward neurons
/// and attention heads of each kept layer), or a fresh model from a configuration file.
public enum StudentBuilder {
    /// A student from `teacher`: the teacher layers `layers` (all when nil), in order, with weights
    /// copied; each kept layer then keeps its `intermediate` most important feed-forward neurons
    /// and `heads` most important heads (L2 importance, as `prune_structured` with method l2).
    /// `hidden` then keeps the most important residual channels (`channelImportance`, computed on
    /// the shrunk layers) and slices every tensor on the residual stream; heads keep the teacher's
    /// head dimension and default to hidden / head dimension. The configuration records the new
    /// sizes, so the saved config loads back.
    public static func shrink(_ teacher: BertEncoder, layers: [Int]? = nil, intermediate: Int? = nil, heads: Int? = nil,
                              hidden: Int? = nil) throws -> BertEncoder {
        try shrinkKeepingChannels(teacher, layers: layers, intermediate: intermediate, heads: heads, hidden: hidden).encoder
    }

    /// `shrink`, also returning the teacher's residual channels the student kept (ascending; nil
    /// when the width is the teacher's).
    public static func shrinkKeepingChannels(_ teacher: BertEncoder, layers: [Int]? = nil, intermediate: Int? = nil, heads: Int? = nil,
                                             hidden: Int? = nil) throws -> (encoder: BertEncoder, channels: [Int]?) {
        let width = try hidden.flatMap { h in h == teacher.configuration.width ? nil : try widthPlan(teacher, hidden: h, heads: heads) }
        let heads = width?.heads ?? heads
        let kept = layers ?? Array(teacher.layers.indices)
        if let bad = kept.first(where: { $0 >= teacher.layers.count }) {
            throw TrainingError.unsupported(option: "layers", reason: "the teacher has \(teacher.layers.count) layers (0…\(teacher.layers.count - 1)); \(bad) is not one")
        }
        var c = teacher.configuration
        c.layers = kept.count
        c.layerIntermediateWidths = c.layerIntermediateWidths.map { w in kept.map { w[$0] } }
        c.layerHeads = c.layerHeads.map { h in kept.map { h[$0] } }
        let student = BertEncoder(configuration: c, wordEmbeddings: copy(teacher.wordEmbeddings),
                                  positionEmbeddings: copy(teacher.positionEmbeddings),
                                  tokenTypeEmbeddings: copy(teacher.tokenTypeEmbeddings), embeddingNorm: copy(teacher.embeddingNorm),
                                  layers: kept.map { copy(teacher.layers[$0]) }, pooler: teacher.pooler.map(copy))
        for (i, layer) in student.layers.enumerated() {
            let name = "encoder.layer.\(i)"
            if let intermediate {
                let ff = layer.feedForward
                guard intermediate <= ff.hiddenWidth else {
                    throw TrainingError.unsupported(option: "intermediate", reason: "\(intermediate) exceeds the teacher layer \(kept[i])'s \(ff.hiddenWidth) neurons")
                }
                StructuredPruning.keepNeurons(ff, strongest(StructuredPruning.neuronImportance(ff, intermediateNorms: nil), intermediate))
            }
            if let heads {
                let attention = layer.attention
                guard heads <= attention.heads else {
                    throw TrainingError.unsupported(option: "heads", reason: "\(heads) exceeds the teacher layer \(kept[i])'s \(attention.heads) heads")
                }
                let importance = try StructuredPruning.headImportance(attention, contextNorms: nil, layer: name)
                try StructuredPruning.keepHeads(attention, strongest(importance, heads), layer: name)
            }
        }
        student.recordLayerSizes()
        guard let width, let hidden else { return (student, nil) }
        let channels = strongest(channelImportance(student), hidden)
        return (narrowed(student, keeping: channels, headDimension: width.headDimension), channels)
    }

    /// A freshly initialised encoder of `configuration` (BERT's N(0, 0.02)), under `seed`.
    public static func fresh(_ configuration: BertEncoder.Configuration, seed: UInt64) -> BertEncoder {
        var rng = RandomGenerator(seed: seed &+ 0x57D)
        return BertEncoder(configuration, rng: &rng)
    }

    /// A freshly initialised classifier of `configuration` (PyTorch's default init), under `seed`.
    public static func fresh(_ configuration: MLPClassifier.Configuration, seed: UInt64) -> MLPClassifier {
        var rng = RandomGenerator(seed: seed &+ 0x57D)
        return MLPClassifier(configuration, rng: &rng)
    }

    /// A freshly initialised decoder of `configuration` (GPT-2's scheme), under `seed`.
    public static func fresh(_ configuration: GPTDecoder.Configuration, seed: UInt64) -> GPTDecoder {
        var rng = RandomGenerator(seed: seed &+ 0x57D)
        return GPTDecoder(configuration, rng: &rng)
    }

    /// The configuration in a student `config` file (native nanoforge or Hugging Face config.json).
    public static func configuration(file: String) throws -> ModelSpec { try ModelLoader.readConfig(file) }

    /// The indices of the `count` largest values (ties to the lower index), ascending.
    static func strongest(_ importance: [Float], _ count: Int) -> [Int] {
        Array(importance.indices.sorted { (-importance[$0], $0) < (-importance[$1], $1) }.prefix(count)).sorted()
    }

    // MARK: copies (new Variables; tensor storage is shared copy-on-write, so training the student
    // never writes into the teacher)

    static func copy(_ l: Linear) -> Linear { Linear(weight: l.weight.value, bias: l.bias?.value) }
    static func copy(_ e: Embedding) -> Embedding { Embedding(weight: e.weight.value) }
    static func copy(_ n: LayerNorm) -> LayerNorm { LayerNorm(weight: n.weight.value, bias: n.bias.value, epsilon: n.epsilon) }

    static func copy(_ layer: BertEncoder.Layer) -> BertEncoder.Layer {
        rebuilt(layer, reading: copy, writing: copy, norm: copy)
    }

    /// A new BERT layer of the same structure whose Linears that read the residual stream
    /// (query, key, value, up, gate), those that write it (attention output, down) and whose
    /// norms are made by the given functions: a copy, or a student of narrower width.
    static func rebuilt(_ layer: BertEncoder.Layer, reading: (Linear) -> Linear, writing: (Linear) -> Linear,
                        norm: (LayerNorm) -> LayerNorm) -> BertEncoder.Layer {
        let a = layer.attention, f = layer.feedForward
        return BertEncoder.Layer(
            attention: MultiHeadAttention(query: reading(a.query), key: reading(a.key), value: reading(a.value), output: writing(a.output),
                                          heads: a.heads, kvHeads: a.kvHeads, rotary: a.rotary),
            attentionNorm: norm(layer.attentionNorm),
            feedForward: FeedForward(up: reading(f.up), gate: f.gate.map(reading), down: writing(f.down), activation: f.activation),
            outputNorm: norm(layer.outputNorm))
    }
}
