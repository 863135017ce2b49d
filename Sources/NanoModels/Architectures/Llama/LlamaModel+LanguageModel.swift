import NanoTensor

/// A Llama model gives next-token logits (its full forward on a tape), so language-model
/// evaluation (`perplexity`, `kl_divergence`) and decoder distillation read it like any decoder.
extension LlamaModel: NextTokenLogitsModel {
    public var vocabularySize: Int { configuration.vocabularySize }
    public var contextLength: Int { configuration.contextLength }
    /// Token-level: its tokenizer is byte-level BPE, not a character vocabulary.
    public var vocabularyCharacters: String? { nil }
    public func nextTokenLogits(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        self(tokens, batch: batch, length: length, tape: tape)
    }
}
