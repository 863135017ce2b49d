import Foundation
import NanoModels

/// What a config describes: an architecture and its hyper-parameters.
public enum ModelSpec: Equatable, Sendable {
    case bert(BertEncoder.Configuration)
    case decoder(GPTDecoder.Configuration)
    case mlp(MLPClassifier.Configuration)

    public var architectureName: String {
        switch self {
        case .bert: return "bert"
        case .decoder: return "gpt_decoder"
        case .mlp: return "mlp_classifier"
        }
    }

    /// Parses a config: Hugging Face `config.json` keys (`model_type: bert`) or nanoforge's native
    /// form `{"architecture": "gpt_decoder" | "mlp_classifier" | "bert", "config": {…}}`.
    public static func parse(_ json: JSONValue, file: String) throws -> ModelSpec {
        if let architecture = json["architecture"]?.string {
            guard let body = json["config"] else { throw CheckpointError.invalidConfig(file: file, field: "config", reason: "missing") }
            let data = Data(body.serialized.utf8)
            do {
                switch architecture {
                case "gpt_decoder": return .decoder(try JSONDecoder().decode(GPTDecoder.Configuration.self, from: data))
                case "mlp_classifier": return .mlp(try JSONDecoder().decode(MLPClassifier.Configuration.self, from: data))
                case "bert":
                    let c = try JSONDecoder().decode(BertEncoder.Configuration.self, from: data)
                    try validateLayerSizes(c, file: file)
                    return .bert(c)
                default:
                    throw CheckpointError.invalidConfig(file: file, field: "architecture",
                                                        reason: "unknown architecture '\(architecture)' (known: bert, gpt_decoder, mlp_classifier)")
                }
            } catch let error as DecodingError {
                throw CheckpointError.invalidConfig(file: file, field: "config", reason: Self.describe(error))
            }
        }
        if let type = json["model_type"]?.string {
            guard type == "bert" else {
                throw CheckpointError.invalidConfig(file: file, field: "model_type", reason: "'\(type)' is not supported (supported: bert)")
            }
            return .bert(try huggingFaceBert(json, file: file))
        }
        throw CheckpointError.invalidConfig(file: file, field: "model_type", reason: "missing: neither a Hugging Face nor a nanoforge config")
    }

    /// The native config form that `parse` reads back.
    public var nativeJSON: JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data: Data?
        switch self {
        case .bert(let c): data = try? encoder.encode(c)
        case .decoder(let c): data = try? encoder.encode(c)
        case .mlp(let c): data = try? encoder.encode(c)
        }
        let body = data.flatMap { try? JSONParser.parse([UInt8]($0)) } ?? .null
        return .object([("architecture", .string(architectureName)), ("config", body)])
    }

    static func huggingFaceBert(_ json: JSONValue, file: String) throws -> BertEncoder.Configuration {
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let field = json[key] else {
                if let value { return value }
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "missing")
            }
            guard let n = field.int, n > 0 else {
                throw CheckpointError.invalidConfig(file: file, field: key, reason: "expected a positive integer, found \(field.serialized)")
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
        default: throw CheckpointError.invalidConfig(file: file, field: "hidden_act", reason: "unsupported activation '\(activationName)'")
        }
        let c = BertEncoder.Configuration(
            vocabularySize: try int("vocab_size"), width: try int("hidden_size"), layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"), intermediateWidth: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", default: 512), typeVocabularySize: try int("type_vocab_size", default: 2),
            layerNormEpsilon: Float(json["layer_norm_eps"]?.number ?? 1e-12), activation: activation)
        guard c.width % c.heads == 0 else {
            throw CheckpointError.invalidConfig(file: file, field: "num_attention_heads",
                                                reason: "hidden_size \(c.width) is not divisible by \(c.heads) heads")
        }
        return c
    }

    /// Per-layer sizes (written for structurally pruned models) must give one positive size per layer.
    static func validateLayerSizes(_ c: BertEncoder.Configuration, file: String) throws {
        for (field, sizes) in [("layerIntermediateWidths", c.layerIntermediateWidths), ("layerHeads", c.layerHeads)] {
            guard let sizes else { continue }
            guard sizes.count == c.layers, sizes.allSatisfy({ $0 > 0 }) else {
                throw CheckpointError.invalidConfig(file: file, field: "config.\(field)",
                                                    reason: "expected \(c.layers) positive sizes (one per layer), found \(sizes)")
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let ctx): return "missing key '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
