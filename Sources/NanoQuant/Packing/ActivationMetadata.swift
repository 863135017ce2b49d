import NanoCheckpoint
import NanoModels

/// Activation quantization in a checkpoint: `__metadata__["nanoforge.activations"]`, a JSON
/// object keyed by Linear layer name (without `.weight`), each static
/// `{"bits": 8, "symmetric": false, "scale": 0.0123, "zero_point": -5}` or dynamic per token
/// `{"bits": 8, "symmetric": true, "mode": "dynamic"}` (no `mode`: static). Loaders install the
/// fake quantization on those layers' inputs, so a reloaded model computes what was evaluated,
/// and the runtime picks its kernel from it.
public enum ActivationMetadata {
    /// The `__metadata__` key holding every layer's input quantization.
    public static let key = "nanoforge.activations"

    /// The metadata value for these layers (sorted by name), nil when there are none.
    public static func encode(_ activations: [String: ActivationQuantization]) -> String? {
        guard !activations.isEmpty else { return nil }
        let entries = activations.keys.sorted().map { name -> String in
            let a = activations[name]!
            if a.perToken { return "\"\(name)\":{\"bits\":\(a.bits),\"symmetric\":true,\"mode\":\"dynamic\"}" }
            // Float's description round-trips exactly.
            return "\"\(name)\":{\"bits\":\(a.bits),\"symmetric\":\(a.symmetric),\"scale\":\(a.parameters.scale),\"zero_point\":\(a.parameters.zeroPoint)}"
        }
        return "{" + entries.joined(separator: ",") + "}"
    }

    /// The activation quantization of each layer named in `store`'s metadata; errors name the
    /// file and the field.
    public static func decode(_ store: TensorStore) throws -> [String: ActivationQuantization] {
        guard let text = store.metadata[key] else { return [:] }
        let file = store.source
        func bad(_ field: String, _ reason: String) -> CheckpointError {
            .invalidConfig(file: file, field: "\(key)\(field.isEmpty ? "" : ".")\(field)", reason: reason)
        }
        guard let json = try? JSONParser.parse(Array(text.utf8)), case .object(let layers) = json else {
            throw bad("", "not a JSON object")
        }
        var result: [String: ActivationQuantization] = [:]
        for (name, value) in layers {
            guard case .object(let fields) = value else { throw bad(name, "not an object") }
            func number(_ field: String) throws -> Double {
                guard let v = fields.first(where: { $0.key == field })?.value, case .number(let n) = v, n.isFinite else {
                    throw bad("\(name).\(field)", "missing or not a finite number")
                }
                return n
            }
            let bits = try number("bits")
            guard bits == 8 else { throw bad("\(name).bits", "\(bits): activations are int8") }
            if let modeValue = fields.first(where: { $0.key == "mode" })?.value {
                guard case .string(let mode) = modeValue, mode == "dynamic" || mode == "static" else {
                    throw bad("\(name).mode", "\"dynamic\" or \"static\" expected")
                }
                if mode == "dynamic" {
                    guard let s = fields.first(where: { $0.key == "symmetric" })?.value, case .bool(true) = s else {
                        throw bad("\(name).symmetric", "dynamic activations are symmetric: true expected")
                    }
                    result[name] = .dynamicPerToken(bits: 8)
                    continue
                }
            }
            let scale = try number("scale"), zero = try number("zero_point")
            guard scale > 0 else { throw bad("\(name).scale", "\(scale): must be > 0") }
            guard let symmetricValue = fields.first(where: { $0.key == "symmetric" })?.value, case .bool(let symmetric) = symmetricValue else {
                throw bad("\(name).symmetric", "missing or not a boolean")
            }
            let qmin = QuantizationNumerics.qmin(bits: 8, symmetric: symmetric), qmax = QuantizationNumerics.qmax(bits: 8, symmetric: symmetric)
            guard zero == zero.rounded(), zero >= Double(qmin), zero <= Double(qmax) else {
                throw bad("\(name).zero_point", "\(zero): must be an integer in \(qmin)…\(qmax)")
            }
            result[name] = ActivationQuantization(parameters: QuantizationParameters(scale: Float(scale), zeroPoint: Int32(zero)),
                                                  bits: 8, symmetric: symmetric)
        }
        return result
    }

    /// Installs each layer's input quantization; a name the model does not have is an error.
    public static func install(_ activations: [String: ActivationQuantization], on model: LoadedModel, file: String) throws {
        guard !activations.isEmpty else { return }
        let layers = Dictionary(model.container.layers(of: Linear.self).map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
        for (name, a) in activations {
            guard let layer = layers[name] else {
                throw CheckpointError.invalidConfig(file: file, field: "\(key).\(name)", reason: "the model has no Linear layer of that name")
            }
            a.install(on: layer)
        }
    }
}
