import NanoTensor

/// A pre-norm transformer block: x + attn(norm(x)), then h + ffn(norm(h)).
public final class TransformerBlock: ParameterContainer {
    public let attentionNorm: Norm
    public let attention: MultiHeadAttention
    public let feedForwardNorm: Norm
    public let feedForward: FeedForward

    public init(attentionNorm: Norm, attention: MultiHeadAttention, feedForwardNorm: Norm, feedForward: FeedForward) {
        self.attentionNorm = attentionNorm
        self.attention = attention
        self.feedForwardNorm = feedForwardNorm
        self.feedForward = feedForward
    }

    /// x: [B, T, width]
    public func callAsFunction(_ x: Variable, mask: Tensor?, tape: Tape) -> Variable {
        let h = tape.add(x, attention(attentionNorm(x, tape: tape), mask: mask, tape: tape))
        return tape.add(h, feedForward(feedForwardNorm(h, tape: tape), tape: tape))
    }

    public var children: [(name: String, module: ParameterContainer)] {
        [("attn_norm", attentionNorm.container), ("attn", attention), ("ffn_norm", feedForwardNorm.container), ("ffn", feedForward)]
    }
}
