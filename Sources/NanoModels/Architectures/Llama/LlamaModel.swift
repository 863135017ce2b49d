import Foundation
import NanoTensor

/// A Llama-family causal decoder (Touvron et al. 2023): token embedding, pre-norm blocks of
/// RMSNorm → grouped-query attention with rotary positions → RMSNorm → SwiGLU, a final RMSNorm and
/// an output head that is either its own matrix or the embedding table (tied).
///
/// Built from the shared layers (`TransformerBlock`, `MultiHeadAttention`, `FeedForward`,
/// `RMSNorm`, `Embedding`); its parameters carry Hugging Face's `LlamaForCausalLM` names
/// (`model.layers.0.self_attn.q_proj.weight`, …) so a `model.safetensors` loads by name. Query and
/// key rows are in Hugging Face's order, which rotates the two halves of each head ("rotate
/// half"); GGUF files store them permuted for ggml's interleaved rotation, and the GGUF loader
/// undoes that.
public final class LlamaModel: ParameterContainer {
    /// The hyper-parameters; vocabulary trimming and structured pruning update them with the sizes.
    public internal(set) var configuration: LlamaConfiguration
    public internal(set) var tokenEmbedding: Embedding
    public internal(set) var blocks: [TransformerBlock]
    public let finalNorm: RMSNorm
    /// The output head; nil when tied to `tokenEmbedding`.
    public internal(set) var head: Linear?
    public let rotary: RotaryEmbedding
    /// Replaces the final hidden states before a tied head's product (as `Linear.inputTransform`
    /// does for a head of its own): evaluation with llama.cpp's input rounding. Read by the full
    /// forward pass only; the KV-cache decoding paths of `generate` do not apply it.
    public var tiedHeadInputTransform: ((Tensor) -> Tensor)?
    /// Matrices the KV-cache decoding (`decodeFused`) computes through another implementation
    /// (NanoRuntime's packed ggml blocks); empty: the Float32 weights. The full forward pass and the
    /// layers' own forwards never read it.
    public var decodingProjections = LlamaDecodingProjections()
    /// Set by the packed runtime's lean loader (`GGMLDecoding.loadModel`): the Linears under
    /// `decodingProjections` hold no Float32 weights of their own, so only `decodeFused` with those
    /// projections may run this model; any other pass stops with a precondition.
    public var requiresDecodingProjections = false

    public init(configuration c: LlamaConfiguration, tokenEmbedding: Embedding, blocks: [TransformerBlock],
                finalNorm: RMSNorm, head: Linear?, rotary: RotaryEmbedding) {
        precondition(c.tiedEmbeddings == (head == nil), "Llama: a tied model has no head of its own, an untied one needs one")
        self.configuration = c
        self.tokenEmbedding = tokenEmbedding
        self.blocks = blocks
        self.finalNorm = finalNorm
        self.head = head
        self.rotary = rotary
    }

    /// A freshly initialised model (N(0, 0.02) weights, unit norms, as Hugging Face's
    /// `initializer_range` default); loaders overwrite every parameter.
    public convenience init(_ c: LlamaConfiguration, rng: inout RandomGenerator) {
        self.init(c, linear: { Linear($0, $1, bias: $2, std: 0.02, rng: &rng) },
                  embedding: { Embedding($0, $1, rng: &rng) })
    }

    /// The model's layer tree with each Linear made by `linear(in, out, bias)` and the token
    /// table by `embedding(vocabulary, width)`, in a fixed order (per block: query, key, value,
    /// output, gate, up, down; then the embedding and an untied head), with unit norms. The
    /// packed runtime's loader builds its shell this way, without Float32 copies of the matrices
    /// it computes on their ggml blocks.
    public convenience init(_ c: LlamaConfiguration, linear: (Int, Int, Bool) -> Linear, embedding: (Int, Int) -> Embedding) {
        precondition(c.inconsistency == nil, "Llama: \(c.inconsistency!.field): \(c.inconsistency!.reason)")
        let rope = RotaryEmbedding(headDimension: c.headDimension, maxLength: c.contextLength, base: c.ropeBase)
        let (w, d) = (c.width, c.headDimension)
        var blocks: [TransformerBlock] = []
        for _ in 0..<c.layers {
            let attention = MultiHeadAttention(
                query: linear(w, c.heads * d, c.attentionBias),
                key: linear(w, c.kvHeads * d, c.attentionBias),
                value: linear(w, c.kvHeads * d, c.attentionBias),
                output: linear(c.heads * d, w, false),
                heads: c.heads, kvHeads: c.kvHeads, rotary: rope)
            let gate = linear(w, c.feedForwardWidth, false)
            let up = linear(w, c.feedForwardWidth, false)
            blocks.append(TransformerBlock(
                attentionNorm: .rms(RMSNorm(w, epsilon: c.rmsEpsilon)), attention: attention,
                feedForwardNorm: .rms(RMSNorm(w, epsilon: c.rmsEpsilon)),
                feedForward: FeedForward(up: up, gate: gate, down: linear(c.feedForwardWidth, w, false), activation: .silu)))
        }
        self.init(configuration: c, tokenEmbedding: embedding(c.vocabularySize, w), blocks: blocks,
                  finalNorm: RMSNorm(w, epsilon: c.rmsEpsilon),
                  head: c.tiedEmbeddings ? nil : linear(w, c.vocabularySize, false),
                  rotary: rope)
    }

    /// tokens: [B·T] ids laid out as [B, T] → logits [B, T, vocabulary], every position attending
    /// to itself and the positions before it. The full forward pass, on `tape` (training, evaluation).
    public func callAsFunction(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        logits(normalizedHiddenStates(tokens, batch: batch, length: length, tape: tape), tape: tape)
    }

    /// tokens: [B·T] laid out as [B, T] → the last block's output after the final norm [B, T, width]:
    /// what the output head reads (the full forward pass without the head).
    public func normalizedHiddenStates(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        precondition(tokens.count == batch * length, "Llama: \(tokens.count) tokens for batch \(batch) × length \(length)")
        precondition(!requiresDecodingProjections, "Llama: loaded for the packed runtime only (no Float32 matrices); the full forward pass cannot run")
        precondition(length <= configuration.contextLength, "Llama: length \(length) exceeds the context \(configuration.contextLength)")
        var x = tokenEmbedding(tokens, shape: [batch, length], tape: tape)
        let mask = Masks.causal(length)
        for block in blocks { x = block(x, mask: mask, tape: tape) }
        return finalNorm(x, tape: tape)
    }

    /// The output head on normalised hidden states [..., width] → [..., vocabulary].
    func logits(_ hidden: Variable, tape: Tape) -> Variable {
        if let head { return head(hidden, tape: tape) }
        guard let transform = tiedHeadInputTransform else { return tape.linear(hidden, weight: tokenEmbedding.weight) }
        let input = tape.record(transform(hidden.value).reshaped(hidden.shape), inputs: [hidden]) { g, _ in [g] }
        return tape.linear(input, weight: tokenEmbedding.weight)
    }

    /// The modules in Hugging Face's order and names (a name may hold dots); `visitParameters` and
    /// the module walk both read this list.
    public var children: [(name: String, module: ParameterContainer)] {
        var list: [(name: String, module: ParameterContainer)] = [("model.embed_tokens", tokenEmbedding)]
        for (i, block) in blocks.enumerated() {
            let layer = "model.layers.\(i)"
            list += [(layer + ".input_layernorm", block.attentionNorm.container), (layer + ".self_attn", block.attention),
                     (layer + ".post_attention_layernorm", block.feedForwardNorm.container), (layer + ".mlp", block.feedForward)]
        }
        list.append(("model.norm", finalNorm))
        if let head { list.append(("lm_head", head)) }
        return list
    }
}
