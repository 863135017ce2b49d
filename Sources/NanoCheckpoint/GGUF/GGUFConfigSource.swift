import NanoModels

extension GGUFValue {
    /// The value as the architecture contract reads configs (integers and floats become numbers).
    public var configValue: ConfigValue {
        switch self {
        case .float32(let v): return .number(Double(v))
        case .float64(let v): return .number(v)
        case .bool(let v): return .bool(v)
        case .string(let s): return .string(s)
        case .uint64(let v): return .number(Double(v))
        case .array(_, let values): return .array(values.map(\.configValue))
        default: return .number(Double(integer ?? 0))
        }
    }
}

extension GGUFFile {
    /// The file's metadata as a config source (`general.architecture` names the family), keys
    /// sorted, with every tensor's row-major shape.
    public var configSource: ConfigSource {
        let values = ConfigValue.object(metadata.keys.sorted().map { (key: $0, value: metadata[$0]!.configValue) })
        let shapes = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        return ConfigSource(convention: .gguf, values: values, file: path, storedShapes: shapes)
    }
}
