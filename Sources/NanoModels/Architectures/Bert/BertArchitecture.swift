import NanoTensor

/// The BERT encoder family (all-MiniLM-L6-v2 and its compressed forms): Hugging Face
/// `config.json` (`model_type: bert`) or nanoforge's native `bert` config; sentence embeddings
/// through a WordPiece tokenizer.
public enum BertArchitecture: ModelArchitecture {
    public typealias Configuration = BertEncoder.Configuration
    public typealias Model = BertEncoder

    public static let name = "bert"
    public static let tasks: [ModelTask] = [.sentenceEmbedding]
    public static let inputAdapter = InputAdapterKind.wordPiece

    public static func recognises(_ source: ConfigSource) -> Bool {
        switch source.convention {
        case .native: return source.names.contains(name)
        case .huggingFace: return source.values["model_type"]?.string == "bert"
        case .gguf: return false
        }
    }

    public static func configuration(from source: ConfigSource) throws -> Configuration {
        let c = source.convention == .native ? try nativeConfiguration(source) : try huggingFace(source.values, file: source.file)
        if source.convention == .native { try validateLayerSizes(c, file: source.file) }
        return c
    }

    public static func configuration(of model: BertEncoder) -> Configuration { model.configuration }

    /// Hugging Face's `BertModel` checkpoints carry no prefix; `BertFor…` ones put `bert.` before every name.
    public static func tensorNames(_ c: Configuration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        if !storedNames.contains("embeddings.word_embeddings.weight") && storedNames.contains("bert.embeddings.word_embeddings.weight") {
            return TensorNameMap(storedPrefix: "bert.")
        }
        return .identity
    }

    public static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> BertEncoder {
        BertEncoder(c, pooler: parameterPaths.contains("pooler.dense.weight"), rng: &rng)
    }

    public static func summary(_ c: Configuration) -> String {
        "bert: \(c.layers) layers, width \(c.width), \(c.heads) heads, ff \(c.intermediateWidth), vocab \(c.vocabularySize)"
    }

    /// A Hugging Face BERT `config.json`.
    static func huggingFace(_ json: ConfigValue, file: String) throws -> Configuration {
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let field = json[key] else {
                if let value { return value }
                throw ConfigError(file: file, field: key, reason: "missing")
            }
            guard let n = field.int, n > 0 else {
                throw ConfigError(file: file, field: key, reason: "expected a positive integer, found \(field.serialized)")
            }
            return n
        }
        let activationName = json["hidden_act"]?.string ?? "gelu"
        let activation: Activation
        switch activationName {
        case "gelu": activation = .gelu
        case "gelu_new", "gelu_pytorch_tanh": activation = .geluTanh
        case "relu": activation = .relu
        case "silu", "swish": activation = .silu
        default: throw ConfigError(file: file, field: "hidden_act", reason: "unsupported activation '\(activationName)'")
        }
        let c = Configuration(
            vocabularySize: try int("vocab_size"), width: try int("hidden_size"), layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"), intermediateWidth: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", default: 512), typeVocabularySize: try int("type_vocab_size", default: 2),
            layerNormEpsilon: Float(json["layer_norm_eps"]?.number ?? 1e-12), activation: activation)
        guard c.width % c.heads == 0 else {
            throw ConfigError(file: file, field: "num_attention_heads", reason: "hidden_size \(c.width) is not divisible by \(c.heads) heads")
        }
        return c
    }

    /// Per-layer sizes (written for structurally pruned models) must give one positive size per layer.
    static func validateLayerSizes(_ c: Configuration, file: String) throws {
        for (field, sizes) in [("layerIntermediateWidths", c.layerIntermediateWidths), ("layerHeads", c.layerHeads)] {
            guard let sizes else { continue }
            guard sizes.count == c.layers, sizes.allSatisfy({ $0 > 0 }) else {
                throw ConfigError(file: file, field: "config.\(field)", reason: "expected \(c.layers) positive sizes (one per layer), found \(sizes)")
            }
        }
    }
}

extension ModelSpec {
    /// A BERT encoder's spec.
    public static func bert(_ c: BertEncoder.Configuration) -> ModelSpec { ModelSpec(BertArchitecture.self, c) }
}

extension LoadedModel {
    /// A built BERT encoder.
    public static func bert(_ model: BertEncoder) -> LoadedModel { LoadedModel(BertArchitecture.self, model) }
}
