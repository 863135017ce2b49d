import NanoForge
import NanoModels
import NanoTensor

/// How one Linear layer's weight is stored in the graph.
enum ONNXWeightForm: Equatable {
    /// int8/uint8 codes [in, out] → DequantizeLinear (per output channel or per tensor) → MatMul.
    case dequantizeLinear
    /// com.microsoft MatMulNBits, 4-bit, with this block size.
    case matMulNBits(blockSize: Int)
    /// A quantized layer kept as its dequantized float weights, for this reason.
    case floatFallback(reason: String)

    /// The form a packed layer gets: QDQ for 8-bit per-channel/per-tensor, MatMulNBits for 4-bit
    /// groups whose size ORT accepts; everything else falls back to float.
    static func choose(for q: QuantizedTensor) -> ONNXWeightForm {
        switch (q.scheme.bits, q.scheme.granularity) {
        case (8, .channel), (8, .tensor):
            return .dequantizeLinear
        case (8, .group):
            return .floatFallback(reason: "group-wise int8 needs blocked DequantizeLinear (opset 21); opset 17 has none")
        case (4, .group(let size)):
            // MatMulNBits requires a power-of-two block size of at least 16.
            guard size >= 16, size & (size - 1) == 0 else {
                return .floatFallback(reason: "MatMulNBits needs a power-of-two block size ≥ 16, the group is \(size)")
            }
            return .matMulNBits(blockSize: size)
        case (4, _):
            return .floatFallback(reason: "MatMulNBits needs group-wise scales")
        default:
            return .floatFallback(reason: "ONNX has no operator for \(q.scheme.bits)-bit weights")
        }
    }
}

extension ONNXGraphBuilder {
    /// `y = x·Wᵀ + b` for x [..., in] → [..., out], with the weight in the form its packed layer
    /// (if any) allows. `name` is the layer name without `.weight`, as in `ExportSource.quantized`.
    func linear(_ input: String, _ layer: Linear, name: String) throws -> String {
        let w = layer.weight.value
        let x = activations[name].map { quantizeDequantize(input, $0, name: name) } ?? input
        var y: String
        if let q = quantized[name] {
            guard q.shape == w.shape else {
                throw ONNXExportError.quantizedLayerMismatch(layer: name, expected: w.shape, found: q.shape)
            }
            markQuantizedUsed(name)
            switch ONNXWeightForm.choose(for: q) {
            case .dequantizeLinear: y = dequantizeLinearMatMul(x, q, name: name)
            case .matMulNBits(let blockSize): y = matMulNBits(x, q, blockSize: blockSize, name: name)
            case .floatFallback(let reason):
                note("\(name): \(q.scheme) stored as dequantized float32 (\(reason))")
                y = floatMatMul(x, w, name: name)
            }
        } else {
            y = floatMatMul(x, w, name: name)
        }
        if let bias = layer.bias {
            y = op("Add", [y, initializer(name + ".bias", bias.value)], name)
        }
        return y
    }

    /// Static int8 input quantization as QuantizeLinear → DequantizeLinear (per tensor): uint8
    /// with a zero point for asymmetric grids, int8 with zero point 0 for symmetric ones (whose
    /// grid stops at −127; ONNX's int8 stops at −128, reached only beyond the calibrated range).
    private func quantizeDequantize(_ x: String, _ a: ActivationQuantization, name: String) -> String {
        let type: ONNXDataType = a.symmetric ? .int8 : .uint8
        let scale = initializer(name + ".input_scale", floats: [a.parameters.scale], dims: [])
        let zero = initializer(name + ".input_zero_point", type, dims: [], raw: [UInt8(truncatingIfNeeded: a.parameters.zeroPoint)])
        let q = op("QuantizeLinear", [x, scale, zero], name + ".input")
        return op("DequantizeLinear", [q, scale, zero], name + ".input")
    }

    private func floatMatMul(_ x: String, _ w: Tensor, name: String) -> String {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let t = Self.transposed(w.scalars, rows: rows, columns: columns)
        let weight = initializer(name + ".weight", floats: t, dims: [columns, rows])
        return op("MatMul", [x, weight], name)
    }

    /// QDQ: codes transposed to [in, out]; the scales run along the output axis, axis 1 of the
    /// transposed weight. Symmetric codes are int8 with zero points 0, asymmetric ones uint8.
    private func dequantizeLinearMatMul(_ x: String, _ q: QuantizedTensor, name: String) -> String {
        let (rows, columns) = (q.rows, q.columns)
        let codes = Self.transposed(q.codes(), rows: rows, columns: columns)
        let type: ONNXDataType = q.scheme.symmetric ? .int8 : .uint8
        let zeros = q.zeroPoints ?? [Int32](repeating: 0, count: q.scales.count)
        let perChannel = q.scheme.granularity == .channel
        let scaleDims = perChannel ? [rows] : []
        let codesName = initializer(name + ".weight_quantized", type, dims: [columns, rows],
                                    raw: codes.map { UInt8(truncatingIfNeeded: $0) })
        let scales = initializer(name + ".weight_scale", floats: q.scales, dims: scaleDims)
        let zeroPoints = initializer(name + ".weight_zero_point", type, dims: scaleDims,
                                     raw: zeros.map { UInt8(truncatingIfNeeded: $0) })
        let attributes: [ONNXAttribute] = perChannel ? [.int("axis", 1)] : []
        let weight = node("DequantizeLinear", [codesName, scales, zeroPoints], name, attributes: attributes)[0]
        return op("MatMul", [x, weight], name)
    }

    /// com.microsoft MatMulNBits (4-bit): B uint8 [N, K/block, block/2] holding unsigned codes two
    /// per byte, low nibble first (nanoforge's packing order); scales [N · K/block] in nanoforge's
    /// [out, in/N] order. Symmetric codes in [-7, 7] are stored as code + 8 with ORT's default zero
    /// point 8; asymmetric zero points are packed two per byte, each row padded to a whole byte.
    private func matMulNBits(_ x: String, _ q: QuantizedTensor, blockSize: Int, name: String) -> String {
        let (n, k) = (q.rows, q.columns)
        let blocks = k / blockSize
        let codes = q.scheme.symmetric ? q.codes().map { $0 + 8 } : q.codes()
        let packed = QuantizationNumerics.pack(codes, bits: 4)
        var inputs = [
            x,
            initializer(name + ".weight_packed", .uint8, dims: [n, blocks, blockSize / 2], raw: packed),
            initializer(name + ".weight_scale", floats: q.scales, dims: [n * blocks]),
        ]
        if let zeros = q.zeroPoints {
            var raw: [UInt8] = []
            for r in 0..<n { raw += QuantizationNumerics.pack(Array(zeros[(r * blocks)..<((r + 1) * blocks)]), bits: 4) }
            inputs.append(initializer(name + ".weight_zero_point", .uint8, dims: [raw.count], raw: raw))
        }
        return node("MatMulNBits", inputs, name, attributes: [.int("K", k), .int("N", n), .int("bits", 4), .int("block_size", blockSize)],
                    domain: ONNXExporter.microsoftDomain)[0]
    }

    /// Row-major [rows, columns] → [columns, rows].
    static func transposed<T>(_ values: [T], rows: Int, columns: Int) -> [T] {
        precondition(values.count == rows * columns, "transposed: \(values.count) values for [\(rows), \(columns)]")
        return [T](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { src in
                for r in 0..<rows {
                    for c in 0..<columns { (out.baseAddress! + c * rows + r).initialize(to: src[r * columns + c]) }
                }
            }
            initialized = values.count
        }
    }
}
