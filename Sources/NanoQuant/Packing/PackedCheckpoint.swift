import Foundation
import NanoCheckpoint
import NanoTensor

/// Quantized Linear weights stored packed in a safetensors store: `<layer>.weight` is replaced by
/// `<layer>.weight.qweight` (the packed codes), `<layer>.weight.scales` and, for asymmetric
/// schemes, `<layer>.weight.zero_points`; each layer's scheme is in
/// `__metadata__["nanoforge.quantization"]` (`PackedLayer`). Everything else is stored as is.
/// Layout and formula: docs/formats.md, "Packed quantized weights".
public enum PackedCheckpoint {
    /// The store for a model: every parameter as F32, except the weights of layers in `quantized`
    /// (keyed by layer name, without `.weight`), which are stored packed. `metadata` is kept and
    /// gains `nanoforge.quantization` when any layer is quantized. `file` names the destination in
    /// errors: a quantized layer must match a `<layer>.weight` parameter of the same shape.
    /// Layers in `ggml` (ggml block codes, `GGMLCheckpoint`) are stored as their blocks and listed
    /// under `nanoforge.ggml`; a layer may not be in both maps.
    public static func pack(parameters: [(name: String, value: Tensor)], quantized: [String: QuantizedTensor],
                            ggml: [String: GGMLQuantizedTensor] = [:], metadata: [String: String], file: String) throws -> TensorStore {
        var meta = metadata
        var tensors: [StoredTensor] = []
        var layers: [PackedLayer] = []
        var ggmlNames = Set<String>()
        for (name, value) in parameters {
            let layerName = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : nil
            if let layerName, let g = ggml[layerName] {
                guard quantized[layerName] == nil else {
                    throw CheckpointError.invalidTensor(file: file, tensor: name, reason: "both packed and in ggml blocks; a layer is stored one way")
                }
                guard g.shape == value.shape else {
                    throw CheckpointError.shapeMismatch(file: file, tensor: name, expected: value.shape, found: g.shape)
                }
                tensors.append(GGMLCheckpoint.companion(layerName, g))
                ggmlNames.insert(layerName)
                continue
            }
            guard let layerName, let q = quantized[layerName] else {
                tensors.append(StoredTensor.encoding(value, name: name))
                continue
            }
            guard q.shape == value.shape else {
                throw CheckpointError.shapeMismatch(file: file, tensor: name, expected: value.shape, found: q.shape)
            }
            let layer = PackedLayer(name: layerName, q)
            tensors += companions(layer, q)
            layers.append(layer)
        }
        let packedNames = Set(layers.map(\.name))
        if let stray = quantized.keys.sorted().first(where: { !packedNames.contains($0) }) {
            throw CheckpointError.missingTensor(file: file, tensor: stray + ".weight")
        }
        if let stray = ggml.keys.sorted().first(where: { !ggmlNames.contains($0) }) {
            throw CheckpointError.missingTensor(file: file, tensor: stray + ".weight")
        }
        if !layers.isEmpty { meta[PackedLayer.metadataKey] = PackedLayer.metadataValue(layers) }
        if !ggml.isEmpty { meta[GGMLCheckpoint.metadataKey] = GGMLCheckpoint.metadataValue(ggml) }
        return TensorStore(tensors: tensors, metadata: meta, source: file, format: .safetensors)
    }

    /// qweight, scales and (asymmetric only) zero points of one layer.
    static func companions(_ layer: PackedLayer, _ q: QuantizedTensor) -> [StoredTensor] {
        var out = [StoredTensor(name: layer.qweightName, dtype: layer.qweightDType, shape: layer.qweightShape, data: Data(q.packed))]
        out.append(StoredTensor.encoding(Tensor(shape: layer.scalesShape, scalars: q.scales), name: layer.scalesName, as: layer.scalesDType))
        if let zeros = q.zeroPoints, let shape = layer.zeroPointsShape {
            let bytes = QuantizationNumerics.pack(zeros, bits: q.scheme.bits)
            out.append(StoredTensor(name: layer.zeroPointsName, dtype: .u8, shape: shape, data: Data(bytes)))
        }
        return out
    }

    /// The suffixes of companion tensors, to catch ones no metadata entry claims.
    static let companionSuffixes = [".weight.qweight", ".weight.scales", ".weight.zero_points"]

    /// Rebuilds the quantized layers of a store: returns the store with each layer's companions
    /// replaced by a dequantized F32 `<layer>.weight` (what `ModelLoader.build` accepts), and
    /// the `QuantizedTensor` of each layer keyed by layer name. A store without
    /// `nanoforge.quantization` comes back unchanged with an empty map. Every inconsistency is a
    /// `CheckpointError` naming `store.source` and the tensor or metadata field.
    public static func unpack(_ store: TensorStore) throws -> (store: TensorStore, quantized: [String: QuantizedTensor]) {
        let (layers, quantized) = try quantizedLayers(in: store)
        guard !layers.isEmpty else { return (store, [:]) }
        var byCompanion: [String: PackedLayer] = [:]
        var claimed = Set<String>()
        for layer in layers {
            byCompanion[layer.qweightName] = layer
            claimed.formUnion([layer.qweightName, layer.scalesName, layer.zeroPointsName])
        }
        var dense = TensorStore(metadata: store.metadata, source: store.source, format: store.format)
        for t in store.tensors where !claimed.contains(t.name) || byCompanion[t.name] != nil {
            if let layer = byCompanion[t.name], let q = quantized[layer.name] {
                dense.insert(StoredTensor.encoding(q.dequantized(), name: layer.name + ".weight"))
            } else {
                dense.insert(t)
            }
        }
        return (dense, quantized)
    }

    /// The packed layers of a store and the `QuantizedTensor` of each (keyed by layer name),
    /// checked as `unpack` checks them, without dequantizing anything: what the packed runtime
    /// loads. A companion no metadata entry claims is an error naming it.
    public static func quantizedLayers(in store: TensorStore) throws -> (layers: [PackedLayer], quantized: [String: QuantizedTensor]) {
        let layers = try PackedLayer.layers(in: store)
        var quantized: [String: QuantizedTensor] = [:]
        var claimed = Set<String>()
        for layer in layers {
            quantized[layer.name] = try decode(layer, from: store)
            claimed.formUnion([layer.qweightName, layer.scalesName, layer.zeroPointsName])
        }
        if let stray = store.names.first(where: { name in !claimed.contains(name) && companionSuffixes.contains { name.hasSuffix($0) } }) {
            throw CheckpointError.invalidTensor(file: store.source, tensor: stray,
                                                reason: "a packed companion whose layer has no entry in \(PackedLayer.metadataKey)")
        }
        return (layers, quantized)
    }

    /// Logical parameters of a store: rows · columns of each packed layer's weight (not its packed
    /// bytes, nor its scales and zero points) plus the elements of every other tensor.
    public static func parameterCount(of store: TensorStore, layers: [PackedLayer]) -> Int {
        var companions = Set<String>()
        for layer in layers { companions.formUnion([layer.qweightName, layer.scalesName, layer.zeroPointsName]) }
        let plain = store.tensors.reduce(0) { $0 + (companions.contains($1.name) ? 0 : $1.elementCount) }
        return layers.reduce(plain) { $0 + $1.rows * $1.columns }
    }
}
