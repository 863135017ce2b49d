import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// The BERT sentence encoder under llama.cpp's `bert` architecture (gguf-py `MODEL_ARCH.BERT`).
extension GGUFExporter {
    /// Hugging Face name suffix inside `encoder.layer.N.` → llama.cpp's `blk.N.` suffix.
    static let bertLayerNames: [String: String] = [
        "attention.self.query": "attn_q", "attention.self.key": "attn_k", "attention.self.value": "attn_v",
        "attention.output.dense": "attn_output", "attention.output.LayerNorm": "attn_output_norm",
        "intermediate.dense": "ffn_up", "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
    ]

    static let bertEmbeddingNames: [String: String] = [
        "embeddings.word_embeddings": "token_embd", "embeddings.position_embeddings": "position_embd",
        "embeddings.token_type_embeddings": "token_types", "embeddings.LayerNorm": "token_embd_norm",
    ]

    /// The GGUF tensor name for a BertEncoder parameter; nil for the pooler, which llama.cpp's
    /// BERT has no tensor for (sentence embeddings do not use it).
    static func bertTensorName(_ name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return name }
        let module = String(name[..<dot]), leaf = String(name[name.index(after: dot)...])
        if module == "pooler.dense" { return nil }
        if let mapped = bertEmbeddingNames[module] { return "\(mapped).\(leaf)" }
        let parts = module.split(separator: ".", maxSplits: 3).map(String.init)
        if parts.count == 4, parts[0] == "encoder", parts[1] == "layer", let n = Int(parts[2]), let mapped = bertLayerNames[parts[3]] {
            return "blk.\(n).\(mapped).\(leaf)"
        }
        return name
    }

    static func bertPlan(_ model: BertEncoder, vocabulary: [String]?, path: String) throws -> Plan {
        let c = model.configuration
        guard c.activation == .gelu || c.activation == .geluTanh else {
            throw CheckpointError.invalidConfig(file: path, field: "activation",
                                                reason: "llama.cpp's bert runs GELU; this encoder uses \(c.activation.rawValue)")
        }
        var plan = Plan(architecture: "bert")
        plan.key("context_length", .uint32(UInt32(c.maxPositions)))
        plan.key("embedding_length", .uint32(UInt32(c.width)))
        plan.key("feed_forward_length", perLayer((0..<c.layers).map(c.intermediateWidth(ofLayer:))))
        plan.key("block_count", .uint32(UInt32(c.layers)))
        plan.key("attention.head_count", perLayer((0..<c.layers).map(c.heads(ofLayer:))))
        plan.key("attention.layer_norm_epsilon", .float32(c.layerNormEpsilon))
        plan.key("attention.causal", .bool(false))
        plan.key("pooling_type", .uint32(1))   // llama.cpp LLAMA_POOLING_TYPE_MEAN, as SentenceEncoder pools
        if c.layerHeads != nil {
            plan.notes.append("heads were pruned: bert.attention.head_count is per layer; llama.cpp derives the head size from layer 0")
        }
        for (name, variable) in model.namedParameters {
            guard let gguf = bertTensorName(name) else {
                plan.notes.append("\(name): not written (llama.cpp's bert has no pooler)")
                continue
            }
            guard gguf != name else {
                throw CheckpointError.invalidConfig(file: path, field: name, reason: "no llama.cpp bert tensor corresponds to this parameter")
            }
            let isMatrix = variable.value.rank == 2 && (gguf.hasSuffix(".weight") && !gguf.contains("norm"))
            let quantizable = isMatrix && (gguf.hasPrefix("blk.") || gguf.hasPrefix("token_embd."))
            plan.add(gguf, variable.value, quantizable: quantizable, layers: quantizable ? [String(name.dropLast(".weight".count))] : [])
        }
        if let vocabulary {
            guard vocabulary.count == c.vocabularySize else {
                throw CheckpointError.invalidConfig(file: path, field: "vocabulary",
                                                    reason: "\(vocabulary.count) tokens for a word embedding of \(c.vocabularySize) rows")
            }
            plan.metadata += bertTokenizer(vocabulary, typeVocabularySize: c.typeVocabularySize)
        } else {
            plan.notes.append("no vocabulary: tokenizer.ggml.* keys not written; llama.cpp needs them to load the file")
        }
        return plan
    }

    /// WordPiece special tokens and the key llama.cpp reads each id from. [CLS] is the BOS token
    /// (gguf-py's SpecialVocab maps cls_token to bos when there is none; there is no cls key).
    static let bertSpecialTokens: [(token: String, key: String)] = [
        ("[CLS]", "tokenizer.ggml.bos_token_id"), ("[SEP]", "tokenizer.ggml.seperator_token_id"),
        ("[UNK]", "tokenizer.ggml.unknown_token_id"), ("[PAD]", "tokenizer.ggml.padding_token_id"),
        ("[MASK]", "tokenizer.ggml.mask_token_id"),
    ]

    /// The vocabulary in llama.cpp's WPM spelling, as convert_hf_to_gguf.py's BertModel writes it:
    /// `[X]` tokens verbatim, `##piece` → `piece`, every other token prefixed with U+2581 (▁),
    /// the "phantom space" marking a word start.
    static func wpmToken(_ token: String) -> String {
        if token.hasPrefix("[") && token.hasSuffix("]") { return token }
        if token.hasPrefix("##") { return String(token.dropFirst(2)) }
        return "\u{2581}" + token
    }

    static func bertTokenizer(_ vocabulary: [String], typeVocabularySize: Int) -> [(String, GGUFValue)] {
        let specials = Set(bertSpecialTokens.map(\.token))
        // gguf-py TokenType: NORMAL = 1, CONTROL = 3 (added special tokens).
        var keys: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("bert")),
            ("tokenizer.ggml.tokens", .strings(vocabulary.map(wpmToken))),
            ("tokenizer.ggml.token_type", .array(.int32, vocabulary.map { .int32(specials.contains($0) ? 3 : 1) })),
            ("tokenizer.ggml.token_type_count", .uint32(UInt32(typeVocabularySize))),
        ]
        for (token, key) in bertSpecialTokens {
            if let id = vocabulary.firstIndex(of: token) { keys.append((key, .uint32(UInt32(id)))) }
        }
        return keys
    }
}

extension BertEncoder: GGUFExportable {
    func ggufPlan(_ source: ExportSource, path: String) throws -> GGUFExporter.Plan {
        try GGUFExporter.bertPlan(self, vocabulary: source.vocabulary, path: path)
    }
}
