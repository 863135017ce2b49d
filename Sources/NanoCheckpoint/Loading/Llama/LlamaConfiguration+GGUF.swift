import NanoModels

extension LlamaConfiguration {
    /// Reads a GGUF file's hyper-parameters (`general.architecture` = llama): `llama.block_count`,
    /// `llama.embedding_length`, `llama.feed_forward_length`, `llama.attention.head_count`,
    /// `llama.attention.head_count_kv`, `llama.rope.freq_base`,
    /// `llama.attention.layer_norm_rms_epsilon`, `llama.context_length`; the vocabulary from the
    /// embedding table (or `tokenizer.ggml.tokens`), tied when there is no `output.weight`.
    /// Nil for another architecture; an error naming the key when one is missing or wrong.
    public static func gguf(_ file: GGUFFile) throws -> LlamaConfiguration? {
        guard let architecture = file["general.architecture"]?.string, architecture == "llama" else { return nil }
        let source = file.path
        func value(_ key: String) -> GGUFValue? { file["\(architecture).\(key)"] }
        func int(_ key: String, default fallback: Int? = nil) throws -> Int {
            guard let v = value(key) else {
                if let fallback { return fallback }
                throw CheckpointError.invalidConfig(file: source, field: "\(architecture).\(key)", reason: "missing")
            }
            guard let n = v.integer, n > 0 else {
                throw CheckpointError.invalidConfig(file: source, field: "\(architecture).\(key)", reason: "expected a positive integer, found \(v.jsonText)")
            }
            return n
        }
        func number(_ key: String, default fallback: Float) throws -> Float {
            guard let v = value(key) else { return fallback }
            switch v {
            case .float32(let x): return x
            case .float64(let x): return Float(x)
            default:
                if let n = v.integer { return Float(n) }
                throw CheckpointError.invalidConfig(file: source, field: "\(architecture).\(key)", reason: "expected a number, found \(v.jsonText)")
            }
        }
        if let scaling = value("rope.scaling.type")?.string, scaling != "none" {
            throw CheckpointError.invalidConfig(file: source, field: "\(architecture).rope.scaling.type", reason: "rotary scaling '\(scaling)' is not supported")
        }
        guard let embedding = file.tensorInfo("token_embd.weight"), embedding.shape.count == 2 else {
            throw CheckpointError.missingTensor(file: source, tensor: "token_embd.weight")
        }
        let vocabulary = embedding.shape[0]
        if let tokens = file["tokenizer.ggml.tokens"]?.elements, tokens.count != vocabulary {
            throw CheckpointError.invalidConfig(file: source, field: "tokenizer.ggml.tokens",
                                                reason: "\(tokens.count) tokens, but token_embd.weight has \(vocabulary) rows")
        }
        let width = try int("embedding_length"), heads = try int("attention.head_count")
        let c = LlamaConfiguration(
            vocabularySize: vocabulary, width: width, layers: try int("block_count"), heads: heads,
            kvHeads: try int("attention.head_count_kv", default: heads),
            headDimension: try int("rope.dimension_count", default: width / heads),
            feedForwardWidth: try int("feed_forward_length"), contextLength: try int("context_length", default: 2048),
            ropeBase: try number("rope.freq_base", default: 10_000),
            rmsEpsilon: try number("attention.layer_norm_rms_epsilon", default: 1e-5),
            tiedEmbeddings: file.tensorInfo("output.weight") == nil, attentionBias: file.tensorInfo("blk.0.attn_q.bias") != nil)
        if let problem = c.inconsistency {
            throw CheckpointError.invalidConfig(file: source, field: problem.field, reason: problem.reason)
        }
        return c
    }
}
