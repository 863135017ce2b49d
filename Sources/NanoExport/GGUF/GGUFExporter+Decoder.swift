import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// GPTDecoder under llama.cpp's `llama` or `gpt2` architecture, whichever matches its features;
/// a mix neither runs (say LayerNorm with rotary positions) is refused rather than mislabelled.
extension GGUFExporter {
    static func decoderPlan(_ model: GPTDecoder, path: String) throws -> Plan {
        let c = model.configuration
        let kvHeads = c.kvHeads ?? c.heads
        let isLlama = c.norm == .rmsNorm && c.positions == .rotary && c.feedForward == .swiglu && c.activation == .silu && !c.bias
        let isGPT2 = c.norm == .layerNorm && c.positions == .learned && c.feedForward == .mlp
            && (c.activation == .geluTanh || c.activation == .gelu) && c.bias && kvHeads == c.heads
        guard isLlama || isGPT2 else {
            throw CheckpointError.invalidConfig(file: path, field: "architecture", reason: """
                this decoder (norm \(c.norm.rawValue), positions \(c.positions.rawValue), feed-forward \(c.feedForward.rawValue), \
                activation \(c.activation.rawValue), bias \(c.bias)) matches neither llama.cpp's llama (rms_norm, rotary, swiglu, \
                silu, no bias) nor gpt2 (layer_norm, learned, mlp, gelu, bias, no grouped-query heads)
                """)
        }
        var plan = Plan(architecture: isLlama ? "llama" : "gpt2")
        plan.key("context_length", .uint32(UInt32(c.contextLength)))
        plan.key("embedding_length", .uint32(UInt32(c.width)))
        plan.key("feed_forward_length", perLayer(model.blocks.map(\.feedForward.down.inFeatures)))
        plan.key("block_count", .uint32(UInt32(c.layers)))
        plan.key("attention.head_count", perLayer(model.blocks.map(\.attention.heads)))
        plan.key("vocab_size", .uint32(UInt32(c.vocabularySize)))
        // nanoforge's decoders use a character tokenizer, which GGUF cannot describe.
        plan.metadata.append(("tokenizer.ggml.model", .string("none")))
        plan.notes.append("tokenizer.ggml.model is \"none\": nanoforge decoders use a character tokenizer GGUF cannot describe")
        plan.add("token_embd.weight", model.tokenEmbedding.weight.value, quantizable: true, layers: ["tok_embeddings"])
        if isLlama {
            plan.key("attention.head_count_kv", perLayer(model.blocks.map(\.attention.kvHeads)))
            plan.key("attention.layer_norm_rms_epsilon", .float32(epsilon(model.finalNorm)))
            if let rotary = model.blocks.first?.attention.rotary {
                plan.key("rope.dimension_count", .uint32(UInt32(rotary.headDimension)))
                plan.key("rope.freq_base", .float32(rotary.base))
            }
        } else {
            plan.key("attention.layer_norm_epsilon", .float32(epsilon(model.finalNorm)))
            if let positions = model.positionEmbedding { plan.add("position_embd.weight", positions.weight.value) }
        }
        for (i, block) in model.blocks.enumerated() {
            let a = block.attention, f = block.feedForward, blk = "blk.\(i)", layer = "blocks.\(i)"
            addNorm(&plan, "\(blk).attn_norm", block.attentionNorm)
            if isLlama {
                addBlock(&plan, block, gguf: blk, attention: "\(layer).attn", feedForward: "\(layer).ffn", permuteRotary: true)
                continue
            }
            let qkv = [a.query, a.key, a.value]
            plan.add("\(blk).attn_qkv.weight", rows(qkv.map(\.weight.value)), quantizable: true,
                     layers: ["q_proj", "k_proj", "v_proj"].map { "\(layer).attn.\($0)" })
            plan.add("\(blk).attn_qkv.bias", rows(qkv.compactMap { $0.bias?.value }))
            addLinear(&plan, "\(blk).attn_output", a.output, layer: "\(layer).attn.o_proj")
            addNorm(&plan, "\(blk).ffn_norm", block.feedForwardNorm)
            addLinear(&plan, "\(blk).ffn_up", f.up, layer: "\(layer).ffn.up_proj")
            addLinear(&plan, "\(blk).ffn_down", f.down, layer: "\(layer).ffn.down_proj")
        }
        addNorm(&plan, "output_norm", model.finalNorm)
        addLinear(&plan, "output", model.head, layer: "lm_head")
        return plan
    }

    /// A pre-norm block under llama.cpp's llama names (the attention norm is added by the caller):
    /// q, k, v, output, the feed-forward norm, gate, up and down, each from the layer named
    /// `attention`.q_proj … `feedForward`.down_proj. llama.cpp's llama rotates adjacent pairs;
    /// nanoforge (like Hugging Face) rotates halves, so with `permuteRotary` the q and k rows are
    /// permuted as convert_hf_to_gguf.py does (qwen2 files keep Hugging Face's order).
    static func addBlock(_ plan: inout Plan, _ block: TransformerBlock, gguf blk: String, attention: String, feedForward: String,
                         permuteRotary: Bool) {
        let a = block.attention, f = block.feedForward
        for (suffix, linear, heads) in [("q", a.query, a.heads), ("k", a.key, a.kvHeads)] {
            let order = permuteRotary ? ropeInterleavedRows(linear.weight.value.shape[0], heads: heads) : nil
            let weight = order.map { permuteRows(linear.weight.value, $0) } ?? linear.weight.value
            plan.add("\(blk).attn_\(suffix).weight", weight, quantizable: true, layers: ["\(attention).\(suffix)_proj"], rowOrder: order)
            if let bias = linear.bias { plan.add("\(blk).attn_\(suffix).bias", order.map { permuteRows(bias.value, $0) } ?? bias.value) }
        }
        addLinear(&plan, "\(blk).attn_v", a.value, layer: "\(attention).v_proj")
        addLinear(&plan, "\(blk).attn_output", a.output, layer: "\(attention).o_proj")
        addNorm(&plan, "\(blk).ffn_norm", block.feedForwardNorm)
        if let gate = f.gate { addLinear(&plan, "\(blk).ffn_gate", gate, layer: "\(feedForward).gate_proj") }
        addLinear(&plan, "\(blk).ffn_up", f.up, layer: "\(feedForward).up_proj")
        addLinear(&plan, "\(blk).ffn_down", f.down, layer: "\(feedForward).down_proj")
    }

    static func addLinear(_ plan: inout Plan, _ name: String, _ linear: Linear, layer: String) {
        plan.add("\(name).weight", linear.weight.value, quantizable: true, layers: [layer])
        if let bias = linear.bias { plan.add("\(name).bias", bias.value) }
    }

    static func addNorm(_ plan: inout Plan, _ name: String, _ norm: Norm) {
        switch norm {
        case .layer(let n):
            plan.add("\(name).weight", n.weight.value)
            plan.add("\(name).bias", n.bias.value)
        case .rms(let n):
            plan.add("\(name).weight", n.weight.value)
        }
    }

    static func epsilon(_ norm: Norm) -> Float {
        switch norm {
        case .layer(let n): return n.epsilon
        case .rms(let n): return n.epsilon
        }
    }

    /// Stacks matrices (or vectors) along their first axis.
    static func rows(_ parts: [Tensor]) -> Tensor {
        let first = parts[0].shape
        let count = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [count] + first.dropFirst(), scalars: parts.flatMap(\.scalars))
    }

    /// Reorders each head's rows from the rotate-half layout [x₀…x_{d/2−1}, y₀…] to pairs
    /// [x₀, y₀, x₁, y₁, …]: row h·d + 2i + j takes row h·d + j·d/2 + i (convert_hf_to_gguf `permute`).
    static func ropeInterleaved(_ w: Tensor, heads: Int) -> Tensor {
        permuteRows(w, ropeInterleavedRows(w.shape[0], heads: heads))
    }

    /// The source row of each row under `ropeInterleaved`, for `rows` rows of `heads` heads.
    static func ropeInterleavedRows(_ rows: Int, heads: Int) -> [Int] {
        let d = rows / heads, half = d / 2
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 { order[h * d + 2 * i + j] = h * d + j * half + i }
            }
        }
        return order
    }

    /// Row r of the result is row `order[r]` of `w` (a matrix, or a vector of one value per row).
    static func permuteRows(_ w: Tensor, _ order: [Int]) -> Tensor {
        let cols = w.rank == 2 ? w.shape[1] : 1
        var out = [Float](repeating: 0, count: w.count)
        for (r, from) in order.enumerated() {
            for c in 0..<cols { out[r * cols + c] = w.scalars[from * cols + c] }
        }
        return Tensor(shape: w.shape, scalars: out)
    }
}

extension GPTDecoder: GGUFExportable {
    func ggufPlan(_ source: ExportSource, path: String) throws -> GGUFExporter.Plan { try GGUFExporter.decoderPlan(self, path: path) }
}
