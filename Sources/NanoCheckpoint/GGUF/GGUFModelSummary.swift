/// What a GGUF file describes, read from its header alone: the architecture and its
/// hyper-parameters (llama.cpp's `<arch>.*` keys), the tokenizer (`tokenizer.ggml.*`), and the
/// tensors' storage per ggml type. `nanoforge inspect` prints it.
public struct GGUFModelSummary: Sendable {
    /// One hyper-parameter: a label (`layers`), the metadata key it came from, its value as text.
    public struct HyperParameter: Sendable, Equatable {
        public let label: String
        public let key: String
        public let value: String
    }

    /// The tensors stored as one ggml type.
    public struct TypeTotal: Sendable, Equatable {
        public let type: GGUFTensorType
        public let tensors: Int
        public let parameters: Int
        public let bytes: Int
        /// Stored bits per parameter, block scales included.
        public var bitsPerWeight: Double { parameters > 0 ? Double(8 * bytes) / Double(parameters) : 0 }
    }

    /// The tokenizer that `tokenizer.ggml.*` describes.
    public struct Tokenizer: Sendable, Equatable {
        /// `tokenizer.ggml.model` (`gpt2` is byte-level BPE, `llama` SentencePiece).
        public let model: String?
        /// `tokenizer.ggml.pre`, the pre-tokenizer's name (`smollm`, `llama-bpe`, …).
        public let preTokenizer: String?
        public let vocabularySize: Int?
        public let mergeCount: Int?
        public let bosID: Int?
        public let eosID: Int?
        /// The length of `tokenizer.chat_template` in characters; nil when there is none.
        public let chatTemplateLength: Int?
    }

    /// `general.architecture`.
    public let architecture: String?
    /// `general.name`.
    public let name: String?
    /// The hyper-parameters present in the file, in a fixed order.
    public let hyperParameters: [HyperParameter]
    /// Elements of all tensors.
    public let parameters: Int
    /// Bytes of all tensor data.
    public let bytes: Int
    /// Per type, most bytes first.
    public let types: [TypeTotal]
    /// nil when the file has no `tokenizer.ggml.model` and no token list.
    public let tokenizer: Tokenizer?

    /// Stored bits per parameter over the whole file.
    public var bitsPerWeight: Double { parameters > 0 ? Double(8 * bytes) / Double(parameters) : 0 }

    /// (label, key suffix after `<arch>.`) in print order.
    static let hyperParameterKeys: [(String, String)] = [
        ("layers", "block_count"), ("width", "embedding_length"), ("feed-forward", "feed_forward_length"),
        ("heads", "attention.head_count"), ("kv heads", "attention.head_count_kv"), ("context", "context_length"),
        ("rope base", "rope.freq_base"), ("rope dimensions", "rope.dimension_count"),
        ("rms eps", "attention.layer_norm_rms_epsilon"), ("norm eps", "attention.layer_norm_epsilon"),
        ("experts", "expert_count"), ("vocabulary", "vocab_size"),
    ]

    public init(_ file: GGUFFile) {
        let arch = file["general.architecture"]?.string
        architecture = arch
        name = file["general.name"]?.string
        let tokens = file["tokenizer.ggml.tokens"]?.elements?.count
        var hyper: [HyperParameter] = []
        for (label, suffix) in Self.hyperParameterKeys {
            let key = "\(arch ?? "general").\(suffix)"
            if let value = file[key] {
                hyper.append(HyperParameter(label: label, key: key, value: Self.text(value)))
            } else if suffix == "vocab_size", let tokens {
                // Older files give the vocabulary only as the token list's length.
                hyper.append(HyperParameter(label: label, key: "tokenizer.ggml.tokens", value: String(tokens)))
            }
        }
        hyperParameters = hyper
        parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        bytes = file.tensors.reduce(0) { $0 + $1.byteCount }
        var totals: [GGUFTensorType: (Int, Int, Int)] = [:]
        for t in file.tensors {
            let old = totals[t.type] ?? (0, 0, 0)
            totals[t.type] = (old.0 + 1, old.1 + t.elementCount, old.2 + t.byteCount)
        }
        types = totals.map { TypeTotal(type: $0.key, tensors: $0.value.0, parameters: $0.value.1, bytes: $0.value.2) }
            .sorted { ($0.bytes, $1.type.rawValue) > ($1.bytes, $0.type.rawValue) }
        let model = file["tokenizer.ggml.model"]?.string
        if model == nil && tokens == nil {
            tokenizer = nil
        } else {
            tokenizer = Tokenizer(model: model, preTokenizer: file["tokenizer.ggml.pre"]?.string, vocabularySize: tokens,
                                  mergeCount: file["tokenizer.ggml.merges"]?.elements?.count,
                                  bosID: file["tokenizer.ggml.bos_token_id"]?.integer,
                                  eosID: file["tokenizer.ggml.eos_token_id"]?.integer,
                                  chatTemplateLength: file["tokenizer.chat_template"]?.string?.count)
        }
    }

    /// A scalar as text: integers plainly, floats in their shortest form (`100000`, `1e-05`).
    static func text(_ value: GGUFValue) -> String {
        switch value {
        case .float32(let f): return f == f.rounded() && abs(f) < 1e15 ? String(Int64(f)) : "\(f)"
        case .float64(let f): return f == f.rounded() && abs(f) < 1e15 ? String(Int64(f)) : "\(f)"
        default: return value.metadataText
        }
    }
}
