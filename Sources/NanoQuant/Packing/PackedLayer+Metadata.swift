import NanoCheckpoint

/// The `nanoforge.quantization` metadata entry: a JSON object keyed by layer name, each value
/// `{"shape": [out, in], "bits": b, "symmetric": bool, "granularity": "tensor" | "channel" |
/// "group", "group_size": N (groups only), "scale_format": "float16" | "float32"}`.
extension PackedLayer {
    /// The `__metadata__` key holding every quantized layer's facts.
    public static let metadataKey = "nanoforge.quantization"

    /// The metadata value for these layers (sorted by name, so the same model gives the same bytes).
    public static func metadataValue(_ layers: [PackedLayer]) -> String {
        JSONValue.object(layers.sorted { $0.name < $1.name }.map { (key: $0.name, value: $0.json) }).serialized
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("shape", .array(shape.map { .number(Double($0)) })),
            ("bits", .number(Double(scheme.bits))),
            ("symmetric", .bool(scheme.symmetric)),
        ]
        switch scheme.granularity {
        case .tensor: members.append(("granularity", .string("tensor")))
        case .channel: members.append(("granularity", .string("channel")))
        case .group(let size):
            members.append(("granularity", .string("group")))
            members.append(("group_size", .number(Double(size))))
        }
        members.append(("scale_format", .string(scaleFormat.rawValue)))
        return .object(members)
    }

    /// The quantized layers a store's metadata declares ([] when it has no `nanoforge.quantization`).
    /// Each malformed field is an `invalidConfig` naming the file and `nanoforge.quantization.<layer>.<field>`.
    public static func layers(in store: TensorStore) throws -> [PackedLayer] {
        guard let text = store.metadata[metadataKey] else { return [] }
        let file = store.source
        let root: JSONValue
        do { root = try JSONParser.parse(Array(text.utf8)) } catch {
            throw CheckpointError.invalidConfig(file: file, field: metadataKey, reason: "invalid JSON: \(error)")
        }
        guard let members = root.members else {
            throw CheckpointError.invalidConfig(file: file, field: metadataKey, reason: "expected a JSON object keyed by layer name")
        }
        return try members.map { try parse($0.value, name: $0.key, file: file) }
    }

    /// Largest logical weight accepted (elements), so absurd shapes cannot overflow byte counts.
    static let maxElements = 1 << 40

    /// A metadata entry's `shape`: an object with [out, in], two positive integers whose product is
    /// at most ``maxElements``; `fail(field, reason)` makes the error naming the entry's field.
    static func weightShape(_ value: JSONValue, fail: (String, String) -> CheckpointError) throws -> [Int] {
        guard value.members != nil else { throw fail("", "expected an object") }
        guard let dims = value["shape"]?.array?.compactMap(\.int), dims.count == 2, value["shape"]?.array?.count == 2,
              dims.allSatisfy({ $0 > 0 }) else {
            throw fail("shape", "expected [out, in] with two positive integers, found \(value["shape"]?.serialized ?? "nothing")")
        }
        let (elements, overflow) = dims[0].multipliedReportingOverflow(by: dims[1])
        guard !overflow, elements <= maxElements else { throw fail("shape", "\(dims) is too large") }
        return dims
    }

    static func parse(_ value: JSONValue, name: String, file: String) throws -> PackedLayer {
        func fail(_ field: String, _ reason: String) -> CheckpointError {
            .invalidConfig(file: file, field: "\(metadataKey).\(name)\(field.isEmpty ? "" : "." + field)", reason: reason)
        }
        let dims = try weightShape(value, fail: fail)
        guard let bits = value["bits"]?.int else { throw fail("bits", "expected an integer") }
        guard QuantizationScheme.supportedBits.contains(bits) else {
            throw fail("bits", "\(bits) is outside the supported \(QuantizationScheme.supportedBits.lowerBound)…\(QuantizationScheme.supportedBits.upperBound)")
        }
        guard let symmetric = value["symmetric"]?.bool else { throw fail("symmetric", "expected true or false") }
        let granularity: QuantizationScheme.Granularity
        switch value["granularity"]?.string {
        case "tensor": granularity = .tensor
        case "channel": granularity = .channel
        case "group":
            guard let size = value["group_size"]?.int, size > 0, dims[1] % size == 0 else {
                throw fail("group_size", "expected a positive integer dividing \(dims[1]) input columns, found \(value["group_size"]?.serialized ?? "nothing")")
            }
            granularity = .group(size)
        default:
            throw fail("granularity", "expected \"tensor\", \"channel\" or \"group\", found \(value["granularity"]?.serialized ?? "nothing")")
        }
        guard let format = value["scale_format"]?.string.flatMap(ScaleFormat.init(rawValue:)) else {
            throw fail("scale_format", "expected \"float16\" or \"float32\", found \(value["scale_format"]?.serialized ?? "nothing")")
        }
        return PackedLayer(name: name, shape: dims, scheme: QuantizationScheme(bits: bits, symmetric: symmetric, granularity: granularity),
                           scaleFormat: format)
    }
}
