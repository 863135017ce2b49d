/// How Llama checkpoints name their tensors, as data: the model's parameters carry Hugging Face's
/// `LlamaForCausalLM` names, so a `model.safetensors` and nanoforge's own output load by name;
/// a GGUF file uses llama.cpp's names, listed here beside them.
///
/// `convert_hf_to_gguf.py` (`LlamaModel.permute`) reorders the rows of `q_proj` (per query head)
/// and `k_proj` (per key/value head) so that ggml's rotary, which rotates adjacent pairs
/// (x₂ᵢ, x₂ᵢ₊₁), computes what Hugging Face's "rotate half" computes on (xᵢ, xᵢ₊d/2); loading
/// undoes it (`TensorNameMap.Transform.unpermuteRotaryRows`). Qwen2 files keep Hugging Face's order
/// (llama.cpp runs them with the "neox" rotation), so theirs are only renamed.
enum LlamaTensorNames {
    /// GGUF name → parameter path, and whether the rows are permuted (`q`: query heads, `k`: key/value heads).
    static let gguf: [(stored: String, parameter: String, rows: Character?)] = [
        ("token_embd.weight", "model.embed_tokens.weight", nil),
        ("output_norm.weight", "model.norm.weight", nil),
        ("output.weight", "lm_head.weight", nil),
        ("blk.{i}.attn_norm.weight", "model.layers.{i}.input_layernorm.weight", nil),
        ("blk.{i}.attn_q.weight", "model.layers.{i}.self_attn.q_proj.weight", "q"),
        ("blk.{i}.attn_q.bias", "model.layers.{i}.self_attn.q_proj.bias", "q"),
        ("blk.{i}.attn_k.weight", "model.layers.{i}.self_attn.k_proj.weight", "k"),
        ("blk.{i}.attn_k.bias", "model.layers.{i}.self_attn.k_proj.bias", "k"),
        ("blk.{i}.attn_v.weight", "model.layers.{i}.self_attn.v_proj.weight", nil),
        ("blk.{i}.attn_v.bias", "model.layers.{i}.self_attn.v_proj.bias", nil),
        ("blk.{i}.attn_output.weight", "model.layers.{i}.self_attn.o_proj.weight", nil),
        ("blk.{i}.ffn_norm.weight", "model.layers.{i}.post_attention_layernorm.weight", nil),
        ("blk.{i}.ffn_gate.weight", "model.layers.{i}.mlp.gate_proj.weight", nil),
        ("blk.{i}.ffn_up.weight", "model.layers.{i}.mlp.up_proj.weight", nil),
        ("blk.{i}.ffn_down.weight", "model.layers.{i}.mlp.down_proj.weight", nil),
    ]

    /// Stored tensors of a Hugging Face checkpoint that are not parameters: rotary buffers some
    /// exporters keep.
    static let huggingFaceBuffers = ["model.layers.{i}.self_attn.rotary_emb.inv_freq"]

    /// The map for a checkpoint of `convention`.
    static func map(_ c: LlamaConfiguration, convention: ConfigSource.Convention) -> TensorNameMap {
        switch convention {
        case .native:
            return .identity
        case .huggingFace:
            // A tied model's `lm_head.weight`, when saved, is a copy of the embedding table.
            return TensorNameMap(ignored: huggingFaceBuffers + (c.tiedEmbeddings ? ["lm_head.weight"] : []))
        case .gguf:
            // Only `llama` files are permuted, and those carry no attention biases (see `LlamaConfiguration.gguf`).
            let permuted = !c.attentionBias
            return TensorNameMap(entries: gguf.map { row in
                let transform: TensorNameMap.Transform
                switch row.rows {
                case "q" where permuted: transform = .unpermuteRotaryRows(heads: c.heads)
                case "k" where permuted: transform = .unpermuteRotaryRows(heads: c.kvHeads)
                default: transform = .none
                }
                return TensorNameMap.Entry(stored: row.stored, parameter: row.parameter, transform: transform)
            })
        }
    }
}
