import NanoTensor

/// The Llama family (Llama, SmolLM, Qwen2): Hugging Face `config.json` of `LlamaForCausalLM` /
/// `Qwen2ForCausalLM`, GGUF metadata (`general.architecture` llama or qwen2) with llama.cpp's
/// tensor names, or nanoforge's native `llama` config; next-token logits through a byte-level BPE
/// tokenizer.
public enum LlamaArchitecture: ModelArchitecture {
    public typealias Configuration = LlamaConfiguration
    public typealias Model = LlamaModel

    public static let name = "llama"
    public static let tasks: [ModelTask] = [.nextTokenLogits]
    public static let inputAdapter = InputAdapterKind.byteLevelBPE

    public static func recognises(_ source: ConfigSource) -> Bool {
        switch source.convention {
        case .native: return source.names.contains(name)
        case .huggingFace:
            return source.values["model_type"]?.string.map(LlamaConfiguration.huggingFaceModelTypes.contains) ?? false
                || source.names.contains(where: LlamaConfiguration.huggingFaceArchitectures.contains)
        case .gguf: return source.names.contains(where: LlamaConfiguration.ggufArchitectures.contains)
        }
    }

    public static func configuration(from source: ConfigSource) throws -> LlamaConfiguration {
        switch source.convention {
        case .native:
            let c = try nativeConfiguration(source)
            try c.validate(file: source.file, field: { "config.\($0)" })
            return c
        case .huggingFace: return try LlamaConfiguration.huggingFace(source.values, file: source.file)
        case .gguf: return try LlamaConfiguration.gguf(source)
        }
    }

    public static func configuration(of model: LlamaModel) -> LlamaConfiguration { model.configuration }

    public static func tensorNames(_ c: LlamaConfiguration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        LlamaTensorNames.map(c, convention: convention)
    }

    public static func build(_ c: LlamaConfiguration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> LlamaModel {
        LlamaModel(c, rng: &rng)
    }

    public static func summary(_ c: LlamaConfiguration) -> String {
        let heads = c.kvHeads == c.heads ? "\(c.heads) heads" : "\(c.heads) heads (\(c.kvHeads) key/value)"
        return "llama: \(c.layers) layers, width \(c.width), \(heads), ff \(c.feedForwardWidth), vocab \(c.vocabularySize)"
            + (c.tiedEmbeddings ? ", tied embeddings" : "")
    }
}

extension ModelSpec {
    /// A Llama-family decoder's spec.
    public static func llama(_ c: LlamaConfiguration) -> ModelSpec { ModelSpec(LlamaArchitecture.self, c) }
}

extension LoadedModel {
    /// A built Llama-family decoder.
    public static func llama(_ model: LlamaModel) -> LoadedModel { LoadedModel(LlamaArchitecture.self, model) }
}
