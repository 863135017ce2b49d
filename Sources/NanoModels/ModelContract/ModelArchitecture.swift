import NanoTensor

/// What a model can be asked for: the tasks evaluation and training run through.
public enum ModelTask: String, Sendable, CaseIterable {
    /// Sentences in, one L2-normalised embedding per sentence out.
    case sentenceEmbedding = "sentence_embedding"
    /// Numeric features in, class logits out.
    case classLogits = "class_logits"
    /// Token ids in, next-token logits out.
    case nextTokenLogits = "next_token_logits"

    /// What a model of this task is called in messages ("sentence encoder", "classifier", "decoder").
    public var kindName: String {
        switch self {
        case .sentenceEmbedding: return "sentence encoder"
        case .classLogits: return "classifier"
        case .nextTokenLogits: return "decoder"
        }
    }
}

/// How text becomes a model's input.
public enum InputAdapterKind: String, Sendable {
    /// A WordPiece tokenizer read from the model folder's `vocab.txt`.
    case wordPiece = "wordpiece"
    /// The characters of a vocabulary the config carries (`characters`).
    case characters
    /// A line of numbers (commas and/or whitespace between them) is one feature row.
    case features
    /// A byte-level BPE tokenizer: the model file's GGUF `tokenizer.ggml.*` metadata, or the
    /// `tokenizer.json` (+ `tokenizer_config.json`) in the model folder.
    case byteLevelBPE = "byte_level_bpe"
}

/// A model family: how nanoforge recognises its configuration, names its stored tensors, builds it
/// and which tasks it runs. Each family conforms in its own folder under
/// `Sources/NanoModels/Architectures/<Name>/` and is listed once in ``Architectures/all``
/// (docs/adding-an-architecture.md).
public protocol ModelArchitecture {
    /// The hyper-parameters; saved as the body of nanoforge's native config.
    associatedtype Configuration: Codable, Equatable, Sendable
    /// The built model.
    associatedtype Model: ParameterContainer

    /// nanoforge's native name (`"architecture"` of a native config).
    static var name: String { get }
    /// The tasks the model runs.
    static var tasks: [ModelTask] { get }
    /// How text becomes the model's input.
    static var inputAdapter: InputAdapterKind { get }

    /// Whether `source` describes this architecture (by `source.names`: the native name, a
    /// Hugging Face `model_type` / `architectures` entry, GGUF's `general.architecture`).
    static func recognises(_ source: ConfigSource) -> Bool
    /// Reads a configuration this architecture recognised; throws ``ConfigError`` naming the field.
    static func configuration(from source: ConfigSource) throws -> Configuration
    /// The configuration of a built model (pruned sizes included).
    static func configuration(of model: Model) -> Configuration
    /// How the stored tensors of a checkpoint following `convention` map to parameter paths.
    /// `storedNames` are the checkpoint's names (some layouts are told apart by them).
    static func tensorNames(_ c: Configuration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap
    /// A model with fresh weights for `c`; `parameterPaths` are the paths the checkpoint provides
    /// (after the name map), so optional parts (a BERT pooler) are built when present.
    static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> Model
    /// One line for `nanoforge inspect`.
    static func summary(_ c: Configuration) -> String
}

extension ModelArchitecture {
    /// Recognised by the native name only; families that read other conventions say so.
    public static func recognises(_ source: ConfigSource) -> Bool {
        source.convention == .native && source.names.contains(name)
    }

    /// Native configs hold the `Configuration` as it is encoded.
    public static func nativeConfiguration(_ source: ConfigSource) throws -> Configuration {
        do { return try source.values.decode(Configuration.self) } catch let error as DecodingError {
            throw ConfigError(file: source.file, field: "config", reason: ConfigError.describe(error))
        }
    }

    public static func configuration(from source: ConfigSource) throws -> Configuration {
        guard source.convention == .native else {
            throw ConfigError(file: source.file, field: "model_type", reason: "\(name) is only read from nanoforge's native config")
        }
        return try nativeConfiguration(source)
    }

    public static func tensorNames(_ c: Configuration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        .identity
    }
}
