import NanoModels

extension LlamaConfiguration {
    /// The Hugging Face `model_type` values read as a Llama family model.
    public static let huggingFaceModelTypes: Set<String> = ["llama", "qwen2"]

    /// Reads a Hugging Face `config.json` of `LlamaForCausalLM` (`model_type` llama) or
    /// `Qwen2ForCausalLM` (qwen2: biases on q/k/v). Nil when the config is of another model type;
    /// an error naming `file` and the field when it is a Llama config nanoforge cannot run
    /// (a missing size, `rope_scaling`, an activation other than SiLU, MLP biases).
    public static func huggingFace(_ json: JSONValue, file: String) throws -> LlamaConfiguration? {
        guard let type = json["model_type"]?.string, huggingFaceModelTypes.contains(type) else { return nil }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let field = json[key], field != .null else {
                if let value { return value }
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "missing")
            }
            guard let n = field.int, n > 0 else {
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "expected a positive integer, found \(field.serialized)")
            }
            return n
        }
        func number(_ key: String, default value: Double) throws -> Float {
            guard let field = json[key], field != .null else { return Float(value) }
            guard let n = field.number else {
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "expected a number, found \(field.serialized)")
            }
            return Float(n)
        }
        let activation = json["hidden_act"]?.string ?? "silu"
        guard activation == "silu" else {
            throw CheckpointError.invalidConfig(file: file, field: "hidden_act", reason: "'\(activation)' is not supported (Llama uses silu)")
        }
        // transformers 4 writes `rope_theta` and `rope_scaling`; transformers 5 one `rope_parameters`
        // object. Only the plain rotation ("default") is supported.
        var ropeBase = try number("rope_theta", default: 10_000)
        for key in ["rope_scaling", "rope_parameters"] {
            guard let rope = json[key], rope != .null else { continue }
            let type = rope["rope_type"]?.string ?? rope["type"]?.string ?? "default"
            guard type == "default" else {
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "rotary scaling '\(type)' is not supported")
            }
            if let theta = rope["rope_theta"] {
                guard let value = theta.number, value > 0 else {
                    throw CheckpointError.invalidConfig(file: file, field: "\(key).rope_theta", reason: "expected a positive number, found \(theta.serialized)")
                }
                ropeBase = Float(value)
            }
        }
        if json["mlp_bias"]?.bool == true {
            throw CheckpointError.invalidConfig(file: file, field: "mlp_bias", reason: "biases on the feed-forward projections are not supported")
        }
        let heads = try int("num_attention_heads")
        let width = try int("hidden_size")
        let c = LlamaConfiguration(
            vocabularySize: try int("vocab_size"), width: width, layers: try int("num_hidden_layers"), heads: heads,
            kvHeads: try int("num_key_value_heads", default: heads), headDimension: try int("head_dim", default: width / Swift.max(heads, 1)),
            feedForwardWidth: try int("intermediate_size"), contextLength: try int("max_position_embeddings", default: 2048),
            ropeBase: ropeBase, rmsEpsilon: try number("rms_norm_eps", default: 1e-6),
            tiedEmbeddings: json["tie_word_embeddings"]?.bool ?? false,
            attentionBias: type == "qwen2" ? true : (json["attention_bias"]?.bool ?? false))
        if let problem = c.inconsistency {
            throw CheckpointError.invalidConfig(file: file, field: problem.field, reason: problem.reason)
        }
        return c
    }
}
