import Foundation
import NanoCheckpoint
import NanoTensor

/// Weights held in a ggml block format (`GGMLQuantizedTensor`) stored in a safetensors store:
/// `<layer>.weight` is replaced by `<layer>.weight.ggml`, a U8 tensor [out, bytes per row] holding
/// the blocks exactly as a GGUF file stores them, and `__metadata__["nanoforge.ggml"]` records each
/// layer's logical shape and ggml type: `{"<layer>": {"shape": [out, in], "type": "Q4_K"}, …}`
/// (type names as gguf-py spells them). Loading decodes the blocks into the F32 weight the model
/// evaluates, so `eval` and `export --format gguf` read the same bytes. docs/formats.md, "ggml
/// codes in a nanoforge checkpoint".
public enum GGMLCheckpoint {
    /// The `__metadata__` key holding every ggml layer's shape and type.
    public static let metadataKey = "nanoforge.ggml"
    /// The companion's suffix after the layer name.
    public static let suffix = ".weight.ggml"

    /// The stored tensor of one layer's blocks: U8 [rows, bytes per row].
    public static func companion(_ layer: String, _ q: GGMLQuantizedTensor) -> StoredTensor {
        StoredTensor(name: layer + suffix, dtype: .u8, shape: [q.rows, q.byteCount / q.rows], data: q.blocks)
    }

    /// The metadata value for these layers (sorted by name, so the same model gives the same bytes).
    public static func metadataValue(_ layers: [String: GGMLQuantizedTensor]) -> String {
        JSONValue.object(layers.keys.sorted().map { name in
            let q = layers[name]!
            return (key: name, value: .object([("shape", .array(q.shape.map { .number(Double($0)) })), ("type", .string(q.type.name))]))
        }).serialized
    }

    /// Replaces each ggml layer's companion by its decoded F32 `<layer>.weight` (what
    /// `ModelLoader.build` accepts) and returns the blocks of each layer by name. A store without
    /// `nanoforge.ggml` comes back unchanged. Every inconsistency (metadata, a missing, stray,
    /// mistyped or truncated companion, a dense weight beside one) is a `CheckpointError` naming
    /// `store.source` and the tensor or field.
    public static func unpack(_ store: TensorStore) throws -> (store: TensorStore, ggml: [String: GGMLQuantizedTensor]) {
        let layers = try decode(store)
        guard !layers.isEmpty else { return (store, [:]) }
        var dense = TensorStore(metadata: store.metadata, source: store.source, format: store.format)
        for t in store.tensors {
            if t.name.hasSuffix(suffix), let q = layers[String(t.name.dropLast(suffix.count))] {
                dense.insert(StoredTensor.encoding(q.dequantized(), name: String(t.name.dropLast(".ggml".count))))
            } else {
                dense.insert(t)
            }
        }
        return (dense, layers)
    }

    /// The ggml layers a store declares, each companion checked before its bytes are used.
    public static func decode(_ store: TensorStore) throws -> [String: GGMLQuantizedTensor] {
        let file = store.source
        let declared = try entries(store)
        var layers: [String: GGMLQuantizedTensor] = [:]
        for (name, shape, type) in declared {
            let tensorName = name + suffix
            if store[name + ".weight"] != nil {
                throw CheckpointError.invalidTensor(file: file, tensor: name + ".weight",
                                                    reason: "stored dense although \(metadataKey) declares the layer's ggml blocks")
            }
            guard let t = store[tensorName] else { throw CheckpointError.missingTensor(file: file, tensor: tensorName) }
            guard t.dtype == .u8 else {
                throw CheckpointError.invalidTensor(file: file, tensor: tensorName, reason: "dtype \(t.dtype.rawValue), expected U8 for \(type.name) blocks")
            }
            // The metadata was checked to give whole blocks per row, so the count exists.
            let expected = type.byteCount(elements: shape[0] * shape[1], rowLength: shape[1])!
            guard t.byteCount == expected else {
                throw CheckpointError.invalidTensor(file: file, tensor: tensorName, reason:
                    "holds \(t.byteCount) bytes, but \(type.name) blocks of a \(shape) weight need \(expected)")
            }
            guard t.shape == [shape[0], expected / shape[0]] else {
                throw CheckpointError.shapeMismatch(file: file, tensor: tensorName, expected: [shape[0], expected / shape[0]], found: t.shape)
            }
            do {
                layers[name] = try GGMLQuantizedTensor(shape: shape, type: type, blocks: t.data)
            } catch {
                // Unreachable after the checks above; kept typed rather than trapping.
                throw CheckpointError.invalidTensor(file: file, tensor: tensorName, reason: "\(error)")
            }
        }
        if let stray = store.names.first(where: { $0.hasSuffix(suffix) && layers[String($0.dropLast(suffix.count))] == nil }) {
            throw CheckpointError.invalidTensor(file: file, tensor: stray, reason: "ggml blocks whose layer has no entry in \(metadataKey)")
        }
        return layers
    }

    /// (layer, [out, in], type) of each `nanoforge.ggml` entry, checked: an object of objects,
    /// two positive dimensions, a ggml block type whose blocks divide the rows.
    static func entries(_ store: TensorStore) throws -> [(String, [Int], GGUFTensorType)] {
        guard let text = store.metadata[metadataKey] else {
            if let stray = store.names.first(where: { $0.hasSuffix(suffix) }) {
                throw CheckpointError.invalidTensor(file: store.source, tensor: stray, reason: "ggml blocks without a \(metadataKey) metadata entry")
            }
            return []
        }
        let file = store.source
        let root: JSONValue
        do { root = try JSONParser.parse(Array(text.utf8)) } catch {
            throw CheckpointError.invalidConfig(file: file, field: metadataKey, reason: "invalid JSON: \(error)")
        }
        guard let members = root.members else {
            throw CheckpointError.invalidConfig(file: file, field: metadataKey, reason: "expected a JSON object keyed by layer name")
        }
        return try members.map { name, value in
            func fail(_ field: String, _ reason: String) -> CheckpointError {
                .invalidConfig(file: file, field: "\(metadataKey).\(name)\(field.isEmpty ? "" : "." + field)", reason: reason)
            }
            let dims = try PackedLayer.weightShape(value, fail: fail)
            let allowed = GGUFBlockEncoder.encodable.map(\.name)
            guard let typeName = value["type"]?.string, let type = GGUFTensorType(name: typeName), GGUFBlockEncoder.canEncode(type) else {
                throw fail("type", "expected one of \(allowed.joined(separator: ", ")), found \(value["type"]?.serialized ?? "nothing")")
            }
            guard GGMLQuantizedTensor.fits(type, columns: dims[1]) else {
                throw fail("type", "\(type.name) needs rows of whole \(type.blockSize)-element blocks; the weight's rows have \(dims[1])")
            }
            return (name, dims, type)
        }
    }
}
