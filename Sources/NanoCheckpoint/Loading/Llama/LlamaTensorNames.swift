import NanoModels
import NanoTensor

/// How a GGUF file names a Llama model's tensors, as a table: GGUF name ↔ Hugging Face name, and
/// whether the rows were permuted by llama.cpp's converter.
///
/// `convert_hf_to_gguf.py` (`LlamaModel.permute`) reorders the rows of `q_proj` (per query head)
/// and `k_proj` (per key/value head) so that ggml's rotary, which rotates adjacent pairs
/// (x₂ᵢ, x₂ᵢ₊₁), computes what Hugging Face's "rotate half" computes on (xᵢ, xᵢ₊d/2):
/// `w.reshape(heads, 2, d/2, in).swapaxes(1, 2)`. Loading undoes it (`unpermute`).
public enum LlamaTensorNames {
    /// A row permutation applied by llama.cpp's converter.
    public enum Permutation: Equatable, Sendable {
        /// Rows grouped per query head (`attn_q`).
        case queryHeads
        /// Rows grouped per key/value head (`attn_k`).
        case keyHeads
    }

    /// One row of the table: the name in a GGUF file, the name in a Hugging Face checkpoint.
    public struct Entry: Equatable, Sendable {
        public let gguf: String
        public let huggingFace: String
        public let permutation: Permutation?
    }

    /// Tensors outside the blocks.
    static let global: [Entry] = [
        Entry(gguf: "token_embd.weight", huggingFace: "model.embed_tokens.weight", permutation: nil),
        Entry(gguf: "output_norm.weight", huggingFace: "model.norm.weight", permutation: nil),
        Entry(gguf: "output.weight", huggingFace: "lm_head.weight", permutation: nil),
    ]

    /// Tensors of block N: `blk.N.<gguf>` ↔ `model.layers.N.<huggingFace>`.
    static let perBlock: [Entry] = [
        Entry(gguf: "attn_norm.weight", huggingFace: "input_layernorm.weight", permutation: nil),
        Entry(gguf: "attn_q.weight", huggingFace: "self_attn.q_proj.weight", permutation: .queryHeads),
        Entry(gguf: "attn_q.bias", huggingFace: "self_attn.q_proj.bias", permutation: .queryHeads),
        Entry(gguf: "attn_k.weight", huggingFace: "self_attn.k_proj.weight", permutation: .keyHeads),
        Entry(gguf: "attn_k.bias", huggingFace: "self_attn.k_proj.bias", permutation: .keyHeads),
        Entry(gguf: "attn_v.weight", huggingFace: "self_attn.v_proj.weight", permutation: nil),
        Entry(gguf: "attn_v.bias", huggingFace: "self_attn.v_proj.bias", permutation: nil),
        Entry(gguf: "attn_output.weight", huggingFace: "self_attn.o_proj.weight", permutation: nil),
        Entry(gguf: "ffn_norm.weight", huggingFace: "post_attention_layernorm.weight", permutation: nil),
        Entry(gguf: "ffn_gate.weight", huggingFace: "mlp.gate_proj.weight", permutation: nil),
        Entry(gguf: "ffn_up.weight", huggingFace: "mlp.up_proj.weight", permutation: nil),
        Entry(gguf: "ffn_down.weight", huggingFace: "mlp.down_proj.weight", permutation: nil),
    ]

    /// The table row for a Hugging Face parameter name (`model.layers.3.mlp.up_proj.weight` →
    /// `blk.3.ffn_up.weight`), or nil for a name that is not a Llama tensor.
    public static func entry(huggingFace name: String) -> Entry? {
        if let e = global.first(where: { $0.huggingFace == name }) { return e }
        let parts = name.split(separator: ".", maxSplits: 3)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let block = Int(parts[2]) else { return nil }
        guard let e = perBlock.first(where: { $0.huggingFace == parts[3] }) else { return nil }
        return Entry(gguf: "blk.\(block).\(e.gguf)", huggingFace: name, permutation: e.permutation)
    }

    /// Undoes the converter's permutation of a query or key tensor ([heads·d, in] or [heads·d]):
    /// Hugging Face row h·d + s·d/2 + i is GGUF row h·d + 2i + s (s ∈ {0, 1}, i < d/2).
    public static func unpermute(_ t: Tensor, heads: Int) -> Tensor {
        reorderRows(t, heads: heads, inverse: true)
    }

    /// The converter's permutation itself (Hugging Face → GGUF), for writers and tests.
    public static func permute(_ t: Tensor, heads: Int) -> Tensor {
        reorderRows(t, heads: heads, inverse: false)
    }

    private static func reorderRows(_ t: Tensor, heads: Int, inverse: Bool) -> Tensor {
        let rows = t.shape[0], columns = t.count / Swift.max(rows, 1)
        precondition(heads > 0 && rows % (2 * heads) == 0, "Llama rotary permutation: \(rows) rows do not split into \(heads) heads of even width")
        let d = rows / heads, half = d / 2
        var out = [Float](repeating: 0, count: t.count)
        t.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads {
                    for s in 0..<2 {
                        for i in 0..<half {
                            let hf = h * d + s * half + i, gguf = h * d + 2 * i + s
                            let (from, to) = inverse ? (gguf, hf) : (hf, gguf)
                            (dst.baseAddress! + to * columns).update(from: src.baseAddress! + from * columns, count: columns)
                        }
                    }
                }
            }
        }
        return Tensor(shape: t.shape, scalars: out)
    }
}
