import NanoTensor

/// A Llama model gives next-token logits (its full forward on a tape), so language-model
/// evaluation (`perplexity`, `kl_divergence`) and decoder distillation read it like any decoder.
/// With `decodingProjections` installed (the packed runtime) and nothing recorded, each sequence
/// runs through `decode` on a fresh cache instead: the same logits as the full forward pass on
/// the arithmetic the projections compute.
extension LlamaModel: NextTokenLogitsModel {
    public var vocabularySize: Int { configuration.vocabularySize }
    public var contextLength: Int { configuration.contextLength }
    /// Token-level: its tokenizer is byte-level BPE, not a character vocabulary.
    public var vocabularyCharacters: String? { nil }
    public func nextTokenLogits(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable {
        guard !decodingProjections.isEmpty, !tape.isRecording, fusedDecodingApplies else { return self(tokens, batch: batch, length: length, tape: tape) }
        var logits: [Float] = []
        logits.reserveCapacity(batch * length * configuration.vocabularySize)
        for b in 0..<batch {
            let sequence = Array(tokens[(b * length)..<((b + 1) * length)])
            logits += decode(sequence, cache: LlamaKVCache(for: self, capacity: length)).scalars
        }
        return tape.constant(Tensor(shape: [batch, length, configuration.vocabularySize], scalars: logits))
    }
}

/// Hidden-state distillation reads the head's input: the final norm's output.
extension LlamaModel: HiddenStatesLanguageModel {
    public var hiddenStateWidth: Int { configuration.width }
    public func nextTokenLogitsAndHiddenStates(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> (logits: Variable, hidden: Variable) {
        let hidden = normalizedHiddenStates(tokens, batch: batch, length: length, tape: tape)
        return (logits(hidden, tape: tape), hidden)
    }
}
