import Foundation
import NanoTensor

/// A GPT/Llama-style causal decoder: token embedding (+ learned positions or rotary), pre-norm
/// blocks, a final norm and an untied LM head.
public final class GPTDecoder: ParameterContainer {
    public struct Configuration: Codable, Equatable, Sendable {
        public var vocabularySize: Int
        public var contextLength: Int
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var kvHeads: Int?
        public var feedForwardWidth: Int
        public var feedForward: FeedForward.Kind
        public var activation: Activation
        public var norm: NormKind
        public var positions: Positions
        public var bias: Bool
        /// The character vocabulary of a character-level model (`CharacterVocabulary.characters`:
        /// token i is the i-th Unicode scalar), stored with the config so a checkpoint loads with
        /// its tokenizer; nil for models trained elsewhere.
        public var characters: String?

        public enum Positions: String, Codable, Sendable { case learned, rotary }

        public init(vocabularySize: Int, contextLength: Int, width: Int, layers: Int, heads: Int, kvHeads: Int? = nil,
                    feedForwardWidth: Int? = nil, feedForward: FeedForward.Kind = .mlp, activation: Activation = .geluTanh,
                    norm: NormKind = .layerNorm, positions: Positions = .learned, bias: Bool = true) {
            self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.width = width
            self.layers = layers; self.heads = heads; self.kvHeads = kvHeads
            self.feedForwardWidth = feedForwardWidth ?? 4 * width; self.feedForward = feedForward
            self.activation = activation; self.norm = norm; self.positions = positions; self.bias = bias
        }
    }

    public let configuration: Configuration
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding?
    public let blocks: [TransformerBlock]
    public let finalNorm: Norm
    public let head: Linear

    public init(configuration c: Configuration, tokenEmbedding: Embedding, positionEmbedding: Embedding?,
                blocks: [TransformerBlock], finalNorm: Norm, head: Linear) {
        self.configuration = c
        self.tokenEmbedding = tokenEmbedding
        self.positionEmbedding = positionEmbedding
        self.blocks = blocks
        self.finalNorm = finalNorm
        self.head = head
    }

    /// A freshly initialised decoder (GPT-2 scheme: N(0, 0.02), residual projections scaled by 1/√(2·layers)).
    public convenience init(_ c: Configuration, rng: inout RandomGenerator) {
        let residualStd = 0.02 / Float(2 * c.layers).squareRoot()
        let rope = c.positions == .rotary ? RotaryEmbedding(headDimension: c.width / c.heads, maxLength: c.contextLength) : nil
        let tok = Embedding(c.vocabularySize, c.width, rng: &rng)
        let pos = c.positions == .learned ? Embedding(c.contextLength, c.width, std: 0.01, rng: &rng) : nil
        var blocks: [TransformerBlock] = []
        for _ in 0..<c.layers {
            blocks.append(TransformerBlock(
                attentionNorm: Norm(c.norm, dimension: c.width),
                attention: MultiHeadAttention(width: c.width, heads: c.heads, kvHeads: c.kvHeads, rotary: rope,
                                              bias: c.bias, outputStd: residualStd, rng: &rng),
                feedForwardNorm: Norm(c.norm, dimension: c.width),
                feedForward: FeedForward(kind: c.feedForward, width: c.width, hidden: c.feedForwardWidth,
                                         activation: c.activation, bias: c.bias, outputStd: residualStd, rng: &rng)))
        }
        self.init(configuration: c, tokenEmbedding: tok, positionEmbedding: pos, blocks: blocks,
                  finalNorm: Norm(c.norm, dimension: c.width),
                  head: Linear(c.width, c.vocabularySize, bias: false, std: 0.02, rng: &rng))
    }

    /// tokens: [B·T] ids laid out as [B, T] → logits [B, T, vocabulary].
    public func callAsFunction(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        precondition(tokens.count == batch * length, "decoder: \(tokens.count) tokens for batch \(batch) × length \(length)")
        precondition(length <= configuration.contextLength, "decoder: length \(length) exceeds context \(configuration.contextLength)")
        var x = tokenEmbedding(tokens, shape: [batch, length], tape: tape)
        if let positionEmbedding {
            x = tape.add(x, positionEmbedding(Array(0..<length), shape: [length], tape: tape))
        }
        let mask = Masks.causal(length)
        for block in blocks { x = block(x, mask: mask, tape: tape) }
        return head(finalNorm(x, tape: tape), tape: tape)
    }

    public var children: [(name: String, module: ParameterContainer)] {
        [("tok_embeddings", tokenEmbedding as ParameterContainer)] + (positionEmbedding.map { [("pos_embeddings", $0 as ParameterContainer)] } ?? [])
            + blocks.enumerated().map { ("blocks.\($0.offset)", $0.element as ParameterContainer) }
            + [("norm", finalNorm.container), ("lm_head", head)]
    }
}
