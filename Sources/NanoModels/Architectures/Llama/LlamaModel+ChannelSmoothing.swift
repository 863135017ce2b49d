/// The Llama block's smoothing groups (pre-norm, SwiGLU), per block in data-flow order:
/// - `input_layernorm` → q, k, v: the norm's output feeds only the three projections;
/// - `v_proj` → `o_proj`, only when there are as many key/value heads as query heads: with
///   grouped-query attention one value channel feeds several heads' columns of `o_proj`, whose
///   shapes then differ (llm-compressor skips this mapping for the same reason);
/// - `post_attention_layernorm` → gate, up;
/// - `up_proj` → `down_proj`: SwiGLU's `silu(gate(x)) ⊙ up(x)` is linear in each channel of
///   `up(x)`, so dividing up's row `j` divides down's input `j`.
extension LlamaModel: ChannelSmoothingModel {
    public var smoothingGroups: [SmoothingGroup] {
        var groups: [SmoothingGroup] = []
        for block in blocks {
            let attention = block.attention, feedForward = block.feedForward
            groups.append(SmoothingGroup(producer: SmoothingProducer(block.attentionNorm),
                                         consumers: [attention.query, attention.key, attention.value]))
            if attention.value.outFeatures == attention.output.inFeatures {
                groups.append(SmoothingGroup(producer: .linear(attention.value), consumers: [attention.output]))
            }
            guard let gate = feedForward.gate else { continue }
            groups.append(SmoothingGroup(producer: SmoothingProducer(block.feedForwardNorm), consumers: [gate, feedForward.up]))
            groups.append(SmoothingGroup(producer: .linear(feedForward.up), consumers: [feedForward.down]))
        }
        return groups
    }
}
