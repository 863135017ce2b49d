/// The windows a text is scored in, as llama.cpp's `llama-perplexity` cuts them
/// (`tools/perplexity/perplexity.cpp`, `perplexity()` and `kl_divergence()`), so figures compare
/// with its output:
///
/// 1. The whole text is tokenized once; when the model's tokenizer adds a BOS token, it is
///    prepended (llama.cpp tokenizes with `add_special = true`).
/// 2. The tokens are cut into consecutive, non-overlapping chunks of `context` tokens; the tail
///    that fills no whole chunk is dropped (`n_chunk = n_tokens / n_ctx`).
/// 3. Each chunk is evaluated on its own, from an empty cache; with a BOS token, the chunk's first
///    token is replaced by BOS (the first chunk's already is BOS).
/// 4. Only the second half is scored: the logits at positions `context/2 … context−2` predict
///    the tokens at `context/2 + 1 … context−1` (`first = n_ctx/2`, `n_ctx − 1 − first` tokens
///    a chunk), so every scored token has at least `context/2` tokens of context.
///
/// Where nanoforge differs: llama.cpp refuses a text of fewer than 2·`context` tokens; here one
/// whole chunk suffices. `maximumChunks` is llama.cpp's `--chunks`.
public struct LanguageModelChunks: Equatable, Sendable {
    /// Tokens a chunk.
    public let context: Int
    /// The chunks as the model sees them, `context` tokens each (BOS first when there is one).
    public let sequences: [[Int]]

    /// The chunks of a text's tokens. `tokens` are the text's own tokens, without BOS; `bos` is
    /// the BOS id when the model's tokenizer adds one. `context` must be at least 3 (a chunk of 2
    /// scores no token). No chunk at all (`sequences` empty) when the text is shorter than one.
    public init(tokens: [Int], context: Int, bos: Int?, maximumChunks: Int? = nil) {
        precondition(context >= 3, "LanguageModelChunks: context \(context) < 3 scores no token")
        self.context = context
        let all = bos.map { [$0] + tokens } ?? tokens
        var count = all.count / context
        if let maximumChunks { count = min(count, max(0, maximumChunks)) }
        sequences = (0..<count).map { i in
            var chunk = Array(all[(i * context)..<((i + 1) * context)])
            if let bos { chunk[0] = bos }
            return chunk
        }
    }

    /// The positions whose logits are scored, each predicting the token after it.
    public var scoredPositions: Range<Int> { (context / 2)..<(context - 1) }

    /// Scored tokens over all chunks.
    public var scoredTokenCount: Int { sequences.count * scoredPositions.count }
}
