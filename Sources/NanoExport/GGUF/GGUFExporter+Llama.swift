import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// The Llama family (`LlamaModel`: Llama, SmolLM; Qwen2 with attention biases) under llama.cpp's
/// `llama` (`qwen2`) architecture, with the byte-level BPE tokenizer and chat template the model
/// was loaded with, so llama.cpp runs the file as it is. Tensor names are `LlamaTensorNames.gguf`
/// read the other way; a tied model writes no `output.weight` (llama.cpp then reads
/// `token_embd.weight` for the output, as SmolLM2's own files do).
extension GGUFExporter {
    static func llamaPlan(_ model: LlamaModel, tokenizer: ByteLevelBPETokenizer?, path: String) throws -> Plan {
        let c = model.configuration
        // llama.cpp's converter permutes the q/k rows of `llama` files only; Qwen2 keeps Hugging
        // Face's order and llama.cpp runs it with the "neox" rotation.
        let architecture = c.attentionBias ? "qwen2" : "llama"
        var plan = Plan(architecture: architecture)
        plan.key("context_length", .uint32(UInt32(c.contextLength)))
        plan.key("embedding_length", .uint32(UInt32(c.width)))
        plan.key("feed_forward_length", perLayer(model.blocks.map(\.feedForward.down.inFeatures)))
        plan.key("block_count", .uint32(UInt32(c.layers)))
        plan.key("attention.head_count", perLayer(model.blocks.map(\.attention.heads)))
        plan.key("attention.head_count_kv", perLayer(model.blocks.map(\.attention.kvHeads)))
        plan.key("attention.layer_norm_rms_epsilon", .float32(c.rmsEpsilon))
        plan.key("rope.freq_base", .float32(c.ropeBase))
        plan.key("rope.dimension_count", .uint32(UInt32(c.headDimension)))
        if c.headDimension * c.heads != c.width {
            plan.key("attention.key_length", .uint32(UInt32(c.headDimension)))
            plan.key("attention.value_length", .uint32(UInt32(c.headDimension)))
        }
        plan.key("vocab_size", .uint32(UInt32(c.vocabularySize)))
        if let tokenizer {
            guard tokenizer.vocabularySize == c.vocabularySize else {
                throw CheckpointError.invalidConfig(file: path, field: "tokenizer",
                                                    reason: "\(tokenizer.vocabularySize) tokens for an embedding table of \(c.vocabularySize) rows")
            }
            plan.metadata += bpeTokenizer(tokenizer)
        } else {
            plan.notes.append("no tokenizer: tokenizer.ggml.* keys not written; llama.cpp needs them to load the file")
        }

        plan.add("token_embd.weight", model.tokenEmbedding.weight.value, quantizable: true, layers: ["model.embed_tokens"])
        for (i, block) in model.blocks.enumerated() {
            let blk = "blk.\(i)", layer = "model.layers.\(i)"
            addNorm(&plan, "\(blk).attn_norm", block.attentionNorm)
            addBlock(&plan, block, gguf: blk, attention: "\(layer).self_attn", feedForward: "\(layer).mlp", permuteRotary: !c.attentionBias)
        }
        plan.add("output_norm.weight", model.finalNorm.weight.value)
        if let head = model.head { addLinear(&plan, "output", head, layer: "lm_head") }
        return plan
    }

    /// The tokenizer keys of a byte-level BPE tokenizer, as convert_hf_to_gguf.py writes them for
    /// `tokenizer.ggml.model` gpt2 and `ByteLevelBPETokenizer(ggufMetadata:)` reads them back.
    static func bpeTokenizer(_ tokenizer: ByteLevelBPETokenizer) -> [(String, GGUFValue)] {
        let d = tokenizer.definition
        // gguf-py TokenType: NORMAL = 1, CONTROL = 3 (special added tokens), USER_DEFINED = 4.
        var types = [GGUFValue](repeating: .int32(1), count: d.tokens.count)
        for added in d.addedTokens { types[added.id] = .int32(added.special ? 3 : 4) }
        var keys: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(ggufPreTokenizerName(d.preTokenizer))),
            ("tokenizer.ggml.tokens", .strings(d.tokens)),
            ("tokenizer.ggml.token_type", .array(.int32, types)),
            ("tokenizer.ggml.merges", .strings(d.merges.map { "\($0.left) \($0.right)" })),
        ]
        for (key, id) in [("bos", d.bosID), ("eos", d.eosID), ("unknown", d.unknownID), ("padding", d.paddingID)] {
            if let id { keys.append(("tokenizer.ggml.\(key)_token_id", .uint32(UInt32(id)))) }
        }
        keys.append(("tokenizer.ggml.add_bos_token", .bool(d.addsBOS)))
        if let template = d.chatTemplate { keys.append(("tokenizer.chat_template", .string(template))) }
        return keys
    }

    /// llama.cpp's `tokenizer.ggml.pre` name of each pre-tokenizer (`BPEPreTokenizer(ggufName:)` reads it).
    static func ggufPreTokenizerName(_ pre: BPEPreTokenizer) -> String {
        switch pre {
        case .gpt2: return "gpt2"
        case .smollm: return "smollm"
        case .llama3: return "llama-bpe"
        case .qwen2: return "qwen2"
        }
    }
}

extension LlamaModel: GGUFExportable {
    func ggufPlan(_ source: ExportSource, path: String) throws -> GGUFExporter.Plan {
        try GGUFExporter.llamaPlan(self, tokenizer: source.tokenizer, path: path)
    }
}
