/// BERT's smoothing groups: `attention.self.value` → `attention.output.dense` in each layer
/// (the attention probabilities mix value rows, and each row sums to 1, so scaling a value
/// channel and its bias scales that context channel).
///
/// BERT is post-norm: each LayerNorm's output is also the residual stream, so no norm can absorb
/// a scale; the feed-forward's GELU between `intermediate.dense` and `output.dense` is not linear
/// per channel either. The value → output pair is the only exact fold.
extension BertEncoder: ChannelSmoothingModel {
    public var smoothingGroups: [SmoothingGroup] {
        layers.compactMap { layer in
            let attention = layer.attention
            guard attention.value.outFeatures == attention.output.inFeatures else { return nil }
            return SmoothingGroup(producer: .linear(attention.value), consumers: [attention.output])
        }
    }
}
