import Foundation
import NanoModels

/// Reading and writing a `ModelSpec` as JSON: the checkpoint side of the architecture contract
/// (`ModelArchitecture`). Which families exist, and how each reads its config, is in
/// `NanoModels/Architectures`.
extension ModelSpec {
    /// Parses a config: a Hugging Face `config.json` (`model_type`, `architectures`), a Keras
    /// model config (`class_name`, `config`), or nanoforge's native form `{"architecture": NAME, "config": {…}}`; the family is the first of
    /// `Architectures.all` that recognises it.
    public static func parse(_ json: JSONValue, file: String) throws -> ModelSpec {
        let source: ConfigSource
        if let architecture = json["architecture"]?.string {
            guard let body = json["config"] else { throw CheckpointError.invalidConfig(file: file, field: "config", reason: "missing") }
            source = .native(architecture: architecture, config: body.configValue, file: file)
        } else if json["model_type"] != nil || json["architectures"] != nil {
            source = ConfigSource(convention: .huggingFace, values: json.configValue, file: file)
        } else if json["class_name"]?.string != nil && json["config"] != nil {
            // A Keras model's config.json (Keras 3's `.keras` archive, unpacked): the families
            // recognise it by Keras's keys, as an .h5 file's model_config.
            source = ConfigSource(convention: .huggingFace, values: json.configValue, file: file)
        } else {
            throw CheckpointError.invalidConfig(file: file, field: "model_type", reason: "missing: neither a Hugging Face nor a nanoforge config")
        }
        return try recognising(source)
    }

    /// `recognise(source)` with its `ConfigError` reported as `CheckpointError.invalidConfig`.
    public static func recognising(_ source: ConfigSource) throws -> ModelSpec {
        do { return try recognise(source) } catch let error as ConfigError {
            throw CheckpointError.invalidConfig(file: error.file, field: error.field, reason: error.reason)
        }
    }

    /// The native config form that `parse` reads back.
    public var nativeJSON: JSONValue {
        let body = (try? encodedConfiguration()).flatMap { try? JSONParser.parse([UInt8]($0)) } ?? .null
        return .object([("architecture", .string(architectureName)), ("config", body)])
    }
}

extension JSONValue {
    /// The value as the architecture contract reads configs.
    public var configValue: ConfigValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n): return .number(n)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(\.configValue))
        case .object(let m): return .object(m.map { (key: $0.key, value: $0.value.configValue) })
        }
    }
}
