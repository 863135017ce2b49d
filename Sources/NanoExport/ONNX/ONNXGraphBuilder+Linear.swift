import NanoQuant
import NanoModels
import NanoTensor

/// How one Linear layer's weight is stored in the graph.
enum ONNXWeightForm: Equatable {
    /// com.microsoft MatMulNBits (4 or 8 bits) with this block size and `accuracy_level` 1: float
    /// arithmetic on the dequantized weights, which is what nanoforge evaluates and runs. (A
    /// DequantizeLinear → MatMul pair would be fused by onnxruntime's default optimizations into
    /// a MatMulNBits of accuracy level 4, which quantizes the activations to int8 as well.)
    case matMulNBits(bits: Int, blockSize: Int)
    /// A quantized layer kept as its dequantized float weights, for this reason.
    case floatFallback(reason: String)

    /// The form a packed layer gets: MatMulNBits for 4- and 8-bit weights per tensor or per
    /// channel (the scale repeated over blocks of `rowBlockSize`) or in groups whose size
    /// MatMulNBits accepts; everything else falls back to float.
    static func choose(for q: QuantizedTensor) -> ONNXWeightForm {
        let bits = q.scheme.bits
        guard bits == 4 || bits == 8 else { return .floatFallback(reason: "ONNX has no operator for \(bits)-bit weights") }
        switch q.scheme.granularity {
        case .tensor, .channel:
            return .matMulNBits(bits: bits, blockSize: rowBlockSize(columns: q.columns))
        case .group(let size):
            // MatMulNBits requires a power-of-two block size of at least 16.
            guard size >= 16, size & (size - 1) == 0 else {
                return .floatFallback(reason: "MatMulNBits needs a power-of-two block size ≥ 16, the group is \(size)")
            }
            return .matMulNBits(bits: bits, blockSize: size)
        }
    }

    /// The block for one-scale-per-row weights: the largest power of two in 16…256 dividing the
    /// row, else 32 (the last block padded with zero weights).
    static func rowBlockSize(columns: Int) -> Int {
        [256, 128, 64, 32, 16].first { columns % $0 == 0 } ?? 32
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
            case .matMulNBits(let bits, let blockSize): y = matMulNBits(x, q, bits: bits, blockSize: blockSize, name: name)
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
    /// with a zero point for asymmetric grids (ONNX's saturation is the grid, 0…255), int8 with
    /// zero point 0 for symmetric ones. nanoforge's symmetric grid stops at −127 where ONNX's int8
    /// saturates at −128, so inputs below the calibrated range are first clipped to −127 · scale
    /// (that product divided by the scale rounds back to −127 exactly): without the Clip an input
    /// at or below −127.5 · scale got code −128 in onnxruntime and −127 in nanoforge.
    private func quantizeDequantize(_ x: String, _ a: ActivationQuantization, name: String) -> String {
        if a.perToken { return perTokenQuantizeDequantize(x, bits: a.bits, name: name) }
        if a.bits != 8 { return staticQuantizeDequantize(x, a, name: name) }
        let type: ONNXDataType = a.symmetric ? .int8 : .uint8
        let scale = initializer(name + ".input_scale", floats: [a.parameters.scale], dims: [])
        let zero = initializer(name + ".input_zero_point", type, dims: [], raw: [UInt8(truncatingIfNeeded: a.parameters.zeroPoint)])
        var input = x
        if a.symmetric {
            let qmin = Float(QuantizationNumerics.qmin(bits: a.bits, symmetric: true))
            input = op("Clip", [x, scalar(qmin * a.parameters.scale)], name + ".input")
        }
        let q = op("QuantizeLinear", [input, scale, zero], name + ".input")
        return op("DequantizeLinear", [q, scale, zero], name + ".input")
    }

    /// Static input quantization to a grid other than 8 bits (which ONNX's QuantizeLinear has no
    /// type for) in plain float ops, as `QuantizationNumerics.fakeQuantize`:
    /// (Clip(Round(x / scale) + zeroPoint, qmin, qmax) − zeroPoint) · scale, ties to even.
    private func staticQuantizeDequantize(_ x: String, _ a: ActivationQuantization, name: String) -> String {
        let hint = name + ".input"
        let (qmin, qmax) = (QuantizationNumerics.qmin(bits: a.bits, symmetric: a.symmetric), QuantizationNumerics.qmax(bits: a.bits, symmetric: a.symmetric))
        let scale = initializer(name + ".input_scale", floats: [a.parameters.scale], dims: [])
        let zero = scalar(Float(a.parameters.zeroPoint))
        let codes = op("Add", [op("Round", [op("Div", [x, scale], hint)], hint), zero], hint)
        let clipped = op("Clip", [codes, scalar(Float(qmin)), scalar(Float(qmax))], hint)
        return op("Mul", [op("Sub", [clipped, zero], hint), scale], hint)
    }

    /// Dynamic per-token symmetric input quantization (`QuantizationNumerics.fakeQuantizePerRow`)
    /// in plain float ops, since ONNX's DynamicQuantizeLinear is per tensor and asymmetric:
    /// scale = ReduceMax(|x|, last axis) / qmax, q = Clip(Round(x · (1 / scale)), ±qmax), q · scale.
    /// Round is ties-to-even as nanoforge's; an all-zero row's scale is floored at the smallest
    /// normal float instead of set to 1 (its codes are 0 either way).
    private func perTokenQuantizeDequantize(_ x: String, bits: Int, name: String) -> String {
        let qmax = Float(QuantizationNumerics.qmax(bits: bits, symmetric: true))
        let hint = name + ".input"
        let absmax = op("ReduceMax", [op("Abs", [x], hint)], hint, .ints("axes", [-1]), .int("keepdims", 1))
        let scale = op("Max", [op("Div", [absmax, scalar(qmax)], hint), scalar(Float.leastNormalMagnitude)], hint)
        let codes = op("Round", [op("Mul", [x, op("Reciprocal", [scale], hint)], hint)], hint)
        let clipped = op("Clip", [codes, scalar(-qmax), scalar(qmax)], hint)
        return op("Mul", [clipped, scale], hint)
    }

    private func floatMatMul(_ x: String, _ w: Tensor, name: String) -> String {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let t = Self.transposed(w.scalars, rows: rows, columns: columns)
        let weight = initializer(name + ".weight", floats: t, dims: [columns, rows])
        return op("MatMul", [x, weight], name)
    }

    /// com.microsoft MatMulNBits, `accuracy_level` 1 (float arithmetic): B uint8 [N, blocks,
    /// block · bits / 8] holding unsigned codes (two per byte, low nibble first, for 4 bits),
    /// blocks = ⌈K / block⌉; scales [N · blocks] in nanoforge's [out, in / block] order (a per-row
    /// or per-tensor scale repeated over the row's blocks). Symmetric codes are stored as code +
    /// 2^(bits−1) with ORT's default zero point 2^(bits−1); asymmetric zero points are uint8
    /// [N · blocks] (8 bits) or packed two per byte with each row padded to a byte (4 bits). A
    /// ragged last block is padded with the zero point's code (weight 0).
    private func matMulNBits(_ x: String, _ q: QuantizedTensor, bits: Int, blockSize: Int, name: String) -> String {
        let (n, k) = (q.rows, q.columns)
        let blocks = (k + blockSize - 1) / blockSize
        let offset: Int32 = q.scheme.symmetric ? 1 << (bits - 1) : 0
        let codes = q.codes()
        /// The scale/zero-point slot of row r, column c.
        func slot(_ r: Int, _ c: Int) -> Int {
            switch q.scheme.granularity {
            case .tensor: return 0
            case .channel: return r
            case .group(let size): return r * (k / size) + c / size
            }
        }
        var stored = [Int32](repeating: 0, count: n * blocks * blockSize)
        var scales = [Float](repeating: 0, count: n * blocks), zeros = [Int32](repeating: 0, count: n * blocks)
        for r in 0..<n {
            for b in 0..<blocks {
                let s = slot(r, b * blockSize)
                scales[r * blocks + b] = q.scales[s]
                zeros[r * blocks + b] = q.zeroPoints?[s] ?? 0
                let padding = q.scheme.symmetric ? offset : zeros[r * blocks + b]
                for i in 0..<blockSize {
                    let c = b * blockSize + i
                    stored[(r * blocks + b) * blockSize + i] = c < k ? codes[r * k + c] + offset : padding
                }
            }
        }
        let packed = bits == 8 ? stored.map { UInt8(truncatingIfNeeded: $0) } : QuantizationNumerics.pack(stored, bits: bits)
        var inputs = [
            x,
            initializer(name + ".weight_packed", .uint8, dims: [n, blocks, blockSize * bits / 8], raw: packed),
            initializer(name + ".weight_scale", floats: scales, dims: [n * blocks]),
        ]
        if q.zeroPoints != nil {
            var raw: [UInt8] = []
            if bits == 8 {
                raw = zeros.map { UInt8(truncatingIfNeeded: $0) }
            } else {
                for r in 0..<n { raw += QuantizationNumerics.pack(Array(zeros[(r * blocks)..<((r + 1) * blocks)]), bits: bits) }
            }
            inputs.append(initializer(name + ".weight_zero_point", .uint8, dims: [raw.count], raw: raw))
        }
        return node("MatMulNBits", inputs, name, attributes: [.int("K", k), .int("N", n), .int("bits", bits), .int("block_size", blockSize),
                                                              .int("accuracy_level", 1)],
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
