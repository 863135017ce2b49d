import NanoTensor

/// A model that gives next-token logits for a token sequence: what language-model evaluation
/// (perplexity, KL divergence against a reference) needs from an architecture, and nothing more.
///
/// Row `t` of the logits is the model's unnormalised distribution of token `t + 1` given tokens
/// `0…t` (causal: it must not depend on later tokens). Token ids are `0..<vocabularySize`;
/// sequences are at most `contextLength` tokens long. Every `NextTokenLogitsModel` (the trainable
/// form, e.g. `GPTDecoder`) is one; a model that only infers may conform directly.
public protocol CausalLanguageModel {
    /// The number of logits per position (the output vocabulary).
    var vocabularySize: Int { get }
    /// The longest sequence `logits` accepts.
    var contextLength: Int { get }
    /// Next-token logits of one sequence: tokens [T] → [T, vocabularySize], 1 ≤ T ≤ contextLength.
    func logits(_ tokens: [Int]) -> Tensor
    /// Next-token logits of several sequences of equal length: [B][T] → [B, T, vocabularySize].
    /// Row `b` must equal `logits(sequences[b])` up to rounding; the default runs them one by one.
    func logits(batch sequences: [[Int]]) -> Tensor
}

extension CausalLanguageModel {
    public func logits(batch sequences: [[Int]]) -> Tensor {
        precondition(!sequences.isEmpty, "logits(batch:): no sequences")
        let length = sequences[0].count
        precondition(sequences.allSatisfy { $0.count == length }, "logits(batch:): sequences of different lengths")
        var scalars: [Float] = []
        scalars.reserveCapacity(sequences.count * length * vocabularySize)
        for sequence in sequences { scalars += logits(sequence).scalars }
        return Tensor(shape: [sequences.count, length, vocabularySize], scalars: scalars)
    }
}

/// Every trainable next-token model is also a causal language model: one inference call of its
/// forward on a non-recording tape.
extension NextTokenLogitsModel {
    public func logits(_ tokens: [Int]) -> Tensor {
        let out = nextTokenLogits(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
        return Tensor(shape: [tokens.count, vocabularySize], scalars: out.scalars)
    }

    public func logits(batch sequences: [[Int]]) -> Tensor {
        precondition(!sequences.isEmpty, "logits(batch:): no sequences")
        let length = sequences[0].count
        precondition(sequences.allSatisfy { $0.count == length }, "logits(batch:): sequences of different lengths")
        return nextTokenLogits(sequences.flatMap { $0 }, batch: sequences.count, length: length, tape: Tape(recording: false)).value
    }
}
