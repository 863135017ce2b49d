import Foundation

/// A configuration value as an architecture reads it, whatever file it came from: a JSON value of
/// a `config.json` or a nanoforge native config, or a GGUF metadata value. Readers in
/// `NanoCheckpoint` convert their own values to this, so `NanoModels` knows no file format.
public indirect enum ConfigValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ConfigValue])
    /// Members in file order.
    case object([(key: String, value: ConfigValue)])

    public static func == (a: ConfigValue, b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of the first `key` in an object.
    public subscript(key: String) -> ConfigValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var number: Double? { if case .number(let n) = self { return n }; return nil }
    public var array: [ConfigValue]? { if case .array(let a) = self { return a }; return nil }

    /// An exact integer, or nil when the number has a fraction or does not fit in Int.
    public var int: Int? {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 9.0e15 else { return nil }
        return Int(n)
    }

    /// Compact JSON text (keys in stored order), for messages.
    public var serialized: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n):
            if n.rounded() == n && abs(n) < 1e15 { return String(Int64(n)) }
            return n.isFinite ? "\(n)" : "null"
        case .string(let s): return (try? String(decoding: JSONEncoder().encode(s), as: UTF8.self)) ?? "\"\(s)\""
        case .array(let a): return "[" + a.map(\.serialized).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { ConfigValue.string($0.key).serialized + ":" + $0.value.serialized }.joined(separator: ",") + "}"
        }
    }

    /// The value as a Foundation JSON object (for `JSONDecoder`-based native configs).
    var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n.rounded() == n && abs(n) < 9.0e15 ? Int(n) as Any : n as Any
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationObject)
        case .object(let m): return Dictionary(m.map { ($0.key, $0.value.foundationObject) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Decodes a `Codable` value from this value (the body of a native config).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: foundationObject, options: [.fragmentsAllowed])
        return try JSONDecoder().decode(type, from: data)
    }
}

/// The configuration of a model as it was found: which convention it follows and its values.
/// An architecture recognises its own (`ModelArchitecture.recognises`) and reads it.
public struct ConfigSource: Sendable {
    public enum Convention: String, Sendable {
        /// A Hugging Face `config.json` (`model_type`, `architectures`, …).
        case huggingFace
        /// nanoforge's native form `{"architecture": NAME, "config": {…}}`; `values` is the `config` body.
        case native
        /// GGUF metadata: `values` is an object of every key (`general.architecture`, `llama.block_count`, …).
        case gguf
    }

    public var convention: Convention
    /// The whole config (Hugging Face, GGUF) or the native `config` body.
    public var values: ConfigValue
    /// The file it came from, for errors.
    public var file: String
    /// The native `architecture` name, `model_type` + `architectures` of a Hugging Face config, or
    /// `general.architecture` of GGUF metadata: what architectures are recognised by.
    public var names: [String]
    /// The stored tensors' shapes, by stored name, when the config comes with its checkpoint (a
    /// GGUF file): some hyper-parameters are only stated by them (the vocabulary, a tied head).
    public var storedShapes: [String: [Int]]

    public init(convention: Convention, values: ConfigValue, file: String, storedShapes: [String: [Int]] = [:]) {
        self.convention = convention
        self.values = values
        self.file = file
        self.storedShapes = storedShapes
        switch convention {
        case .native: names = []
        case .huggingFace:
            names = ([values["model_type"]?.string] + (values["architectures"]?.array ?? []).map(\.string)).compactMap { $0 }
        case .gguf: names = [values["general.architecture"]?.string].compactMap { $0 }
        }
    }

    /// A native config: `values` is the body under `config`.
    public static func native(architecture: String, config: ConfigValue, file: String) -> ConfigSource {
        var source = ConfigSource(convention: .native, values: config, file: file)
        source.names = [architecture]
        return source
    }
}

/// A configuration an architecture cannot use: the file, the field (dotted path) and why.
/// `NanoCheckpoint` reports it as `CheckpointError.invalidConfig`.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var reason: String

    public init(file: String, field: String, reason: String) {
        self.file = file; self.field = field; self.reason = reason
    }

    public var description: String { "\(file): \(field): \(reason)" }

    /// The message of a `DecodingError` from a native config body.
    public static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let ctx): return "missing key '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
