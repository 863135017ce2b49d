import NanoTensor

/// Sentence embeddings as sentence-transformers computes them for MiniLM: the mean of the token
/// states over the attention mask, then L2 normalisation.
public enum SentencePooling {
    /// hidden: [B, T, D], attentionMask: [B, T] of 1/0 → [B, D]
    public static func meanPooled(_ hidden: Variable, attentionMask: Tensor, tape: Tape) -> Variable {
        let (b, t) = (attentionMask.shape[0], attentionMask.shape[1])
        let mask = tape.constant(attentionMask.reshaped([b, t, 1]))
        let summed = tape.sum(tape.mul(hidden, mask), axes: [1])                 // [B, D]
        let counts = attentionMask.sum(axes: [1], keepDims: true).applying { Swift.max($0, 1e-9) }  // [B, 1]
        return tape.div(summed, tape.constant(counts))
    }

    /// x / max(‖x‖₂, ε) along the last axis.
    public static func normalized(_ x: Variable, epsilon: Float = 1e-12, tape: Tape) -> Variable {
        let norm = tape.sqrt(tape.sum(tape.square(x), axes: [-1], keepDims: true))
        let clamped = tape.record(Tensor.maximum(norm.value, Tensor(scalar: epsilon)), inputs: [norm]) { g, _ in
            [g * norm.value.applying { $0 > epsilon ? 1 : 0 }]
        }
        return tape.div(x, clamped)
    }

    /// Mean pooling then normalisation: the model's sentence embeddings [B, D].
    public static func sentenceEmbeddings(_ hidden: Variable, attentionMask: Tensor, tape: Tape) -> Variable {
        normalized(meanPooled(hidden, attentionMask: attentionMask, tape: tape), tape: tape)
    }
}
