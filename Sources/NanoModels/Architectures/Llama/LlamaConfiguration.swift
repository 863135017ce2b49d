import Foundation

/// The hyper-parameters of a Llama-family decoder (Llama, SmolLM, and Qwen2 with `attentionBias`),
/// named after what they are; the loaders map Hugging Face's `config.json` keys and GGUF's
/// `llama.*` metadata onto them.
public struct LlamaConfiguration: Codable, Equatable, Sendable {
    public var vocabularySize: Int
    /// The residual stream's width (`hidden_size`, `llama.embedding_length`).
    public var width: Int
    public var layers: Int
    public var heads: Int
    /// Key/value heads for grouped-query attention (`num_key_value_heads`); equal to `heads` for
    /// plain multi-head attention.
    public var kvHeads: Int
    /// Per-head width; `width / heads` unless the checkpoint says otherwise (`head_dim`).
    public var headDimension: Int
    /// SwiGLU's hidden width (`intermediate_size`, `llama.feed_forward_length`).
    public var feedForwardWidth: Int
    /// The longest sequence the rotary table covers (`max_position_embeddings`, `llama.context_length`).
    public var contextLength: Int
    /// Rotary base θ (`rope_theta`, `llama.rope.freq_base`).
    public var ropeBase: Float
    /// RMSNorm's ε (`rms_norm_eps`, `llama.attention.layer_norm_rms_epsilon`).
    public var rmsEpsilon: Float
    /// Whether the output head reuses the token embedding table (`tie_word_embeddings`).
    public var tiedEmbeddings: Bool
    /// Biases on the query, key and value projections (Qwen2); Llama has none.
    public var attentionBias: Bool

    public init(vocabularySize: Int, width: Int, layers: Int, heads: Int, kvHeads: Int? = nil, headDimension: Int? = nil,
                feedForwardWidth: Int, contextLength: Int, ropeBase: Float = 10_000, rmsEpsilon: Float = 1e-5,
                tiedEmbeddings: Bool = false, attentionBias: Bool = false) {
        self.vocabularySize = vocabularySize; self.width = width; self.layers = layers
        self.heads = heads; self.kvHeads = kvHeads ?? heads; self.headDimension = headDimension ?? width / heads
        self.feedForwardWidth = feedForwardWidth; self.contextLength = contextLength
        self.ropeBase = ropeBase; self.rmsEpsilon = rmsEpsilon
        self.tiedEmbeddings = tiedEmbeddings; self.attentionBias = attentionBias
    }

    /// The first inconsistency between the sizes (a field name and the reason), or nil when they
    /// fit together: every size positive, heads a multiple of key/value heads, an even head width.
    public var inconsistency: (field: String, reason: String)? {
        for (field, value) in [("vocabularySize", vocabularySize), ("width", width), ("layers", layers), ("heads", heads),
                               ("kvHeads", kvHeads), ("headDimension", headDimension),
                               ("feedForwardWidth", feedForwardWidth), ("contextLength", contextLength)] where value <= 0 {
            return (field, "expected a positive size, found \(value)")
        }
        if heads % kvHeads != 0 { return ("kvHeads", "\(heads) heads are not a multiple of \(kvHeads) key/value heads") }
        if headDimension % 2 != 0 { return ("headDimension", "rotary embeddings need an even head width, found \(headDimension)") }
        if !(ropeBase > 0) { return ("ropeBase", "expected a positive rotary base, found \(ropeBase)") }
        if !(rmsEpsilon >= 0) { return ("rmsEpsilon", "expected a non-negative epsilon, found \(rmsEpsilon)") }
        return nil
    }
}
