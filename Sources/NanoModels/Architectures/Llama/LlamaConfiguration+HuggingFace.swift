extension LlamaConfiguration {
    /// The Hugging Face `model_type` values read as a Llama family model.
    public static let huggingFaceModelTypes: Set<String> = ["llama", "qwen2"]
    /// The Hugging Face `architectures` entries read as a Llama family model.
    public static let huggingFaceArchitectures: Set<String> = ["LlamaForCausalLM", "Qwen2ForCausalLM"]

    /// Reads a Hugging Face `config.json` of `LlamaForCausalLM` (`model_type` llama) or
    /// `Qwen2ForCausalLM` (qwen2: biases on q/k/v). Throws ``ConfigError`` naming `file` and the
    /// field when it is a Llama config nanoforge cannot run (a missing size, `rope_scaling`, an
    /// activation other than SiLU, MLP biases).
    public static func huggingFace(_ json: ConfigValue, file: String) throws -> LlamaConfiguration {
        let type = json["model_type"]?.string ?? ""
        func present(_ key: String) -> ConfigValue? {
            guard let field = json[key], field != .null else { return nil }
            return field
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let field = present(key) else {
                if let value { return value }
                throw ConfigError(file: file, field: key, reason: "missing")
            }
            guard let n = field.int, n > 0 else {
                throw ConfigError(file: file, field: key, reason: "expected a positive integer, found \(field.serialized)")
            }
            return n
        }
        func number(_ key: String, default value: Double) throws -> Float {
            guard let field = present(key) else { return Float(value) }
            guard let n = field.number else {
                throw ConfigError(file: file, field: key, reason: "expected a number, found \(field.serialized)")
            }
            return Float(n)
        }
        func bool(_ key: String) -> Bool? {
            if case .bool(let b)? = json[key] { return b }
            return nil
        }
        let activation = json["hidden_act"]?.string ?? "silu"
        guard activation == "silu" else {
            throw ConfigError(file: file, field: "hidden_act", reason: "'\(activation)' is not supported (Llama uses silu)")
        }
        // transformers 4 writes `rope_theta` and `rope_scaling`; transformers 5 one `rope_parameters`
        // object. Only the plain rotation ("default") is supported.
        var ropeBase = try number("rope_theta", default: 10_000)
        for key in ["rope_scaling", "rope_parameters"] {
            guard let rope = present(key) else { continue }
            let kind = rope["rope_type"]?.string ?? rope["type"]?.string ?? "default"
            guard kind == "default" else {
                throw ConfigError(file: file, field: key, reason: "rotary scaling '\(kind)' is not supported")
            }
            if let theta = rope["rope_theta"] {
                guard let value = theta.number, value > 0 else {
                    throw ConfigError(file: file, field: "\(key).rope_theta", reason: "expected a positive number, found \(theta.serialized)")
                }
                ropeBase = Float(value)
            }
        }
        if bool("mlp_bias") == true {
            throw ConfigError(file: file, field: "mlp_bias", reason: "biases on the feed-forward projections are not supported")
        }
        let heads = try int("num_attention_heads")
        let width = try int("hidden_size")
        let c = LlamaConfiguration(
            vocabularySize: try int("vocab_size"), width: width, layers: try int("num_hidden_layers"), heads: heads,
            kvHeads: try int("num_key_value_heads", default: heads), headDimension: try int("head_dim", default: width / Swift.max(heads, 1)),
            feedForwardWidth: try int("intermediate_size"), contextLength: try int("max_position_embeddings", default: 2048),
            ropeBase: ropeBase, rmsEpsilon: try number("rms_norm_eps", default: 1e-6),
            tiedEmbeddings: bool("tie_word_embeddings") ?? false,
            attentionBias: type == "qwen2" ? true : (bool("attention_bias") ?? false))
        try c.validate(file: file, field: { $0 })
        return c
    }

    /// Throws the first `inconsistency` as a ``ConfigError`` (its field passed through `field`).
    func validate(file: String, field: (String) -> String) throws {
        if let problem = inconsistency {
            throw ConfigError(file: file, field: field(problem.field), reason: problem.reason)
        }
    }
}
