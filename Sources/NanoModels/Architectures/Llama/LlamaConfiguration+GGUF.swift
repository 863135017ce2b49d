extension LlamaConfiguration {
    /// The GGUF `general.architecture` values read as a Llama family model.
    public static let ggufArchitectures: Set<String> = ["llama", "qwen2"]

    /// Reads a GGUF file's hyper-parameters (`general.architecture` llama or qwen2, keys under that
    /// prefix): `block_count`, `embedding_length`, `feed_forward_length`, `attention.head_count`,
    /// `attention.head_count_kv`, `rope.freq_base`, `attention.layer_norm_rms_epsilon`,
    /// `context_length`; the vocabulary from the embedding table's shape (checked against
    /// `tokenizer.ggml.tokens`), tied when there is no `output.weight`, attention biases when
    /// there is a `blk.0.attn_q.bias`. `source.storedShapes` must hold the file's tensors.
    public static func gguf(_ source: ConfigSource) throws -> LlamaConfiguration {
        let file = source.file, values = source.values
        let architecture = values["general.architecture"]?.string ?? "llama"
        func value(_ key: String) -> ConfigValue? { values["\(architecture).\(key)"] }
        func int(_ key: String, default fallback: Int? = nil) throws -> Int {
            guard let v = value(key) else {
                if let fallback { return fallback }
                throw ConfigError(file: file, field: "\(architecture).\(key)", reason: "missing")
            }
            guard let n = v.int, n > 0 else {
                throw ConfigError(file: file, field: "\(architecture).\(key)", reason: "expected a positive integer, found \(v.serialized)")
            }
            return n
        }
        func number(_ key: String, default fallback: Float) throws -> Float {
            guard let v = value(key) else { return fallback }
            guard let n = v.number else {
                throw ConfigError(file: file, field: "\(architecture).\(key)", reason: "expected a number, found \(v.serialized)")
            }
            return Float(n)
        }
        if let scaling = value("rope.scaling.type")?.string, scaling != "none" {
            throw ConfigError(file: file, field: "\(architecture).rope.scaling.type", reason: "rotary scaling '\(scaling)' is not supported")
        }
        guard let embedding = source.storedShapes["token_embd.weight"], embedding.count == 2 else {
            throw ConfigError(file: file, field: "token_embd.weight", reason: "missing: the token embedding table gives the vocabulary")
        }
        let vocabulary = embedding[0]
        if let tokens = values["tokenizer.ggml.tokens"]?.array, tokens.count != vocabulary {
            throw ConfigError(file: file, field: "tokenizer.ggml.tokens",
                              reason: "\(tokens.count) tokens, but token_embd.weight has \(vocabulary) rows")
        }
        let attentionBias = source.storedShapes["blk.0.attn_q.bias"] != nil
        // llama.cpp's converter permutes the q/k rows of `llama` files only; a bias would be permuted
        // with them, which nanoforge has no reference file to check against.
        if attentionBias && architecture == "llama" {
            throw ConfigError(file: file, field: "blk.0.attn_q.bias", reason: "attention biases in a llama GGUF file are not supported")
        }
        let width = try int("embedding_length"), heads = try int("attention.head_count")
        let c = LlamaConfiguration(
            vocabularySize: vocabulary, width: width, layers: try int("block_count"), heads: heads,
            kvHeads: try int("attention.head_count_kv", default: heads),
            headDimension: try int("rope.dimension_count", default: width / heads),
            feedForwardWidth: try int("feed_forward_length"), contextLength: try int("context_length", default: 2048),
            ropeBase: try number("rope.freq_base", default: 10_000),
            rmsEpsilon: try number("attention.layer_norm_rms_epsilon", default: 1e-5),
            tiedEmbeddings: source.storedShapes["output.weight"] == nil, attentionBias: attentionBias)
        try c.validate(file: file, field: { $0 })
        return c
    }
}
