import NanoTensor

/// A BERT-style encoder (post-norm blocks) with Hugging Face parameter names
/// (`embeddings.word_embeddings.weight`, `encoder.layer.N.attention.self.query.weight`, …).
public final class BertEncoder: ParameterContainer {
    public struct Configuration: Codable, Equatable, Sendable {
        public var vocabularySize: Int
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var intermediateWidth: Int
        public var maxPositions: Int
        public var typeVocabularySize: Int
        public var layerNormEpsilon: Float
        public var activation: Activation
        /// Per-layer feed-forward widths, when structured pruning left layers of different sizes;
        /// `nil` means every layer has `intermediateWidth`.
        public var layerIntermediateWidths: [Int]?
        /// Per-layer attention head counts after head pruning; `nil` means every layer has `heads`.
        /// The head dimension stays `width / heads`.
        public var layerHeads: [Int]?

        public init(vocabularySize: Int, width: Int, layers: Int, heads: Int, intermediateWidth: Int,
                    maxPositions: Int = 512, typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12,
                    activation: Activation = .gelu, layerIntermediateWidths: [Int]? = nil, layerHeads: [Int]? = nil) {
            self.vocabularySize = vocabularySize; self.width = width; self.layers = layers; self.heads = heads
            self.intermediateWidth = intermediateWidth; self.maxPositions = maxPositions
            self.typeVocabularySize = typeVocabularySize; self.layerNormEpsilon = layerNormEpsilon
            self.activation = activation
            self.layerIntermediateWidths = layerIntermediateWidths; self.layerHeads = layerHeads
        }

        /// The feed-forward width of layer `i`.
        public func intermediateWidth(ofLayer i: Int) -> Int { layerIntermediateWidths?[i] ?? intermediateWidth }

        /// The attention head count of layer `i`.
        public func heads(ofLayer i: Int) -> Int { layerHeads?[i] ?? heads }
    }

    /// One post-norm block: h = LN(x + attn(x)); out = LN(h + ffn(h)).
    public final class Layer: ParameterContainer {
        public let attention: MultiHeadAttention
        public let attentionNorm: LayerNorm
        public let feedForward: FeedForward
        public let outputNorm: LayerNorm

        public init(attention: MultiHeadAttention, attentionNorm: LayerNorm, feedForward: FeedForward, outputNorm: LayerNorm) {
            self.attention = attention; self.attentionNorm = attentionNorm
            self.feedForward = feedForward; self.outputNorm = outputNorm
        }

        public func callAsFunction(_ x: Variable, mask: Tensor?, tape: Tape) -> Variable {
            let h = attentionNorm(tape.add(x, attention(x, mask: mask, tape: tape)), tape: tape)
            return outputNorm(tape.add(h, feedForward(h, tape: tape)), tape: tape)
        }

        public var children: [(name: String, module: ParameterContainer)] {
            [("attention.self.query", attention.query), ("attention.self.key", attention.key),
             ("attention.self.value", attention.value), ("attention.output.dense", attention.output),
             ("attention.output.LayerNorm", attentionNorm),
             ("intermediate.dense", feedForward.up), ("output.dense", feedForward.down), ("output.LayerNorm", outputNorm)]
        }

        /// Hugging Face's names for the shared attention and feed-forward modules' projections.
        public func replaceChild(_ name: String, with module: ParameterContainer) -> Bool {
            switch name {
            case "attention.self.query": return attention.replaceChild("q_proj", with: module)
            case "attention.self.key": return attention.replaceChild("k_proj", with: module)
            case "attention.self.value": return attention.replaceChild("v_proj", with: module)
            case "attention.output.dense": return attention.replaceChild("o_proj", with: module)
            case "intermediate.dense": return feedForward.replaceChild("up_proj", with: module)
            case "output.dense": return feedForward.replaceChild("down_proj", with: module)
            default: return false
            }
        }
    }

    /// The hyper-parameters; `recordLayerSizes()` updates the per-layer sizes after a pass reshaped layers.
    public private(set) var configuration: Configuration
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding
    public let embeddingNorm: LayerNorm
    public let layers: [Layer]
    /// The pooler (tanh(dense(h_[CLS]))) some checkpoints carry; sentence embeddings do not use it.
    public let pooler: Linear?

    public init(configuration: Configuration, wordEmbeddings: Embedding, positionEmbeddings: Embedding,
                tokenTypeEmbeddings: Embedding, embeddingNorm: LayerNorm, layers: [Layer], pooler: Linear?) {
        self.configuration = configuration
        self.wordEmbeddings = wordEmbeddings; self.positionEmbeddings = positionEmbeddings
        self.tokenTypeEmbeddings = tokenTypeEmbeddings; self.embeddingNorm = embeddingNorm
        self.layers = layers; self.pooler = pooler
    }

    /// A freshly initialised encoder (BERT's N(0, 0.02) scheme).
    public convenience init(_ c: Configuration, pooler: Bool = false, rng: inout RandomGenerator) {
        var layers: [Layer] = []
        for i in 0..<c.layers {
            layers.append(Layer(
                attention: MultiHeadAttention(width: c.width, heads: c.heads(ofLayer: i), headDimension: c.width / c.heads, rng: &rng),
                attentionNorm: LayerNorm(c.width, epsilon: c.layerNormEpsilon),
                feedForward: FeedForward(kind: .mlp, width: c.width, hidden: c.intermediateWidth(ofLayer: i), activation: c.activation, rng: &rng),
                outputNorm: LayerNorm(c.width, epsilon: c.layerNormEpsilon)))
        }
        self.init(configuration: c,
                  wordEmbeddings: Embedding(c.vocabularySize, c.width, rng: &rng),
                  positionEmbeddings: Embedding(c.maxPositions, c.width, rng: &rng),
                  tokenTypeEmbeddings: Embedding(c.typeVocabularySize, c.width, rng: &rng),
                  embeddingNorm: LayerNorm(c.width, epsilon: c.layerNormEpsilon),
                  layers: layers, pooler: pooler ? Linear(c.width, c.width, std: 0.02, rng: &rng) : nil)
    }

    /// Records each layer's current feed-forward width and head count in `configuration`, after a
    /// pass (structured pruning) replaced projections. Uniform sizes go in the global fields and
    /// clear the per-layer arrays, so an unpruned model's config is unchanged.
    public func recordLayerSizes() {
        let widths = layers.map(\.feedForward.hiddenWidth), heads = layers.map(\.attention.heads)
        if let w = widths.first, widths.allSatisfy({ $0 == w }) {
            configuration.intermediateWidth = w; configuration.layerIntermediateWidths = nil
        } else {
            configuration.layerIntermediateWidths = widths
        }
        let original = configuration.heads
        configuration.layerHeads = heads.allSatisfy({ $0 == original }) ? nil : heads
    }

    /// ids: [B·T] laid out [B, T]; `attentionMask` [B, T] of 1 (token) / 0 (padding).
    /// Returns the last hidden states [B, T, width]. Token types are all 0 (single sentences).
    public func callAsFunction(_ ids: [Int], attentionMask: Tensor, tape: Tape) -> Variable {
        let (b, t) = (attentionMask.shape[0], attentionMask.shape[1])
        precondition(ids.count == b * t, "encoder: \(ids.count) ids for batch \(b) × length \(t)")
        precondition(t <= configuration.maxPositions, "encoder: length \(t) exceeds \(configuration.maxPositions) positions")
        var x = wordEmbeddings(ids, shape: [b, t], tape: tape)
        x = tape.add(x, positionEmbeddings(Array(0..<t), shape: [t], tape: tape))
        x = tape.add(x, tokenTypeEmbeddings([0], shape: [1], tape: tape))
        x = embeddingNorm(x, tape: tape)
        let mask = Masks.padding(attentionMask: attentionMask)
        for layer in layers { x = layer(x, mask: mask, tape: tape) }
        return x
    }

    public var children: [(name: String, module: ParameterContainer)] {
        [("embeddings.word_embeddings", wordEmbeddings as ParameterContainer), ("embeddings.position_embeddings", positionEmbeddings),
         ("embeddings.token_type_embeddings", tokenTypeEmbeddings), ("embeddings.LayerNorm", embeddingNorm)]
            + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element as ParameterContainer) }
            + (pooler.map { [("pooler.dense", $0 as ParameterContainer)] } ?? [])
    }
}
