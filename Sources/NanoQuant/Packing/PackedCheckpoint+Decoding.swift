import Foundation
import NanoCheckpoint
import NanoTensor

extension PackedCheckpoint {
    /// One layer's `QuantizedTensor` from its companions, each checked (presence, dtype, byte or
    /// element count, shape, finite positive scales) before its bytes are used.
    static func decode(_ layer: PackedLayer, from store: TensorStore) throws -> QuantizedTensor {
        let file = store.source
        if store[layer.name + ".weight"] != nil {
            throw CheckpointError.invalidTensor(file: file, tensor: layer.name + ".weight",
                                                reason: "stored dense although \(PackedLayer.metadataKey) declares the layer packed")
        }
        let scheme = layer.scheme
        let what = "\(scheme) codes of a \(layer.shape) weight"

        let qweight = try companion(layer.qweightName, in: store, dtype: layer.qweightDType, shape: layer.qweightShape, what: what)
        let scaleCount = scheme.scaleCount(rows: layer.rows, columns: layer.columns)
        let scalesTensor = try companion(layer.scalesName, in: store, dtype: layer.scalesDType, shape: layer.scalesShape,
                                         what: "\(scaleCount) scales (\(layer.scaleFormat.rawValue)) of \(scheme)")
        let scales = scalesTensor.floatTensor().scalars
        if let bad = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw CheckpointError.invalidTensor(file: file, tensor: layer.scalesName, reason: "scale \(bad) is \(scales[bad]); scales must be finite and positive")
        }

        var zeroPoints: [Int32]?
        if let shape = layer.zeroPointsShape {
            let zeros = try companion(layer.zeroPointsName, in: store, dtype: .u8, shape: shape,
                                      what: "\(scaleCount) zero points of \(scheme.bits) bits")
            zeroPoints = QuantizationNumerics.unpack([UInt8](zeros.data), count: scaleCount, bits: scheme.bits, signed: false)
        } else if store[layer.zeroPointsName] != nil {
            throw CheckpointError.invalidTensor(file: file, tensor: layer.zeroPointsName, reason: "a symmetric scheme (\(scheme)) has no zero points")
        }

        do {
            return try QuantizedTensor(shape: layer.shape, scheme: scheme, packed: [UInt8](qweight.data), scales: scales,
                                       zeroPoints: zeroPoints, scaleFormat: layer.scaleFormat)
        } catch {
            // Unreachable after the checks above; kept typed rather than trapping.
            throw CheckpointError.invalidTensor(file: file, tensor: layer.qweightName, reason: "\(error)")
        }
    }

    /// The named companion, checked: present, of `dtype`, with the byte count of `shape`
    /// (reported as bytes, the quantity a packer gets wrong), then exactly `shape`.
    static func companion(_ name: String, in store: TensorStore, dtype: DType, shape: [Int], what: String) throws -> StoredTensor {
        guard let t = store[name] else { throw CheckpointError.missingTensor(file: store.source, tensor: name) }
        guard t.dtype == dtype else {
            throw CheckpointError.invalidTensor(file: store.source, tensor: name, reason: "dtype \(t.dtype.rawValue), expected \(dtype.rawValue) for \(what)")
        }
        let expectedBytes = shape.elementCount * dtype.size
        guard t.byteCount == expectedBytes else {
            throw CheckpointError.invalidTensor(file: store.source, tensor: name,
                                                reason: "holds \(t.byteCount) bytes, but \(what) need \(expectedBytes) (shape \(shape))")
        }
        guard t.shape == shape else {
            throw CheckpointError.shapeMismatch(file: store.source, tensor: name, expected: shape, found: t.shape)
        }
        return t
    }
}
