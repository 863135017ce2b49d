import CBLAS
import NanoForge
import NanoTensor

/// Which GEMM a packed int8 layer runs.
public enum RuntimeKernel: String, Sendable, CaseIterable {
    /// Dequantize-on-the-fly panels + fp32 sgemm (every scheme).
    case dequant
    /// int8 × int8 → int32 with dynamic per-token symmetric int8 activations on Int16-widened
    /// operands (`Int8GEMM`, `vpmaddwd`; symmetric per-channel int8 weights, other layers keep
    /// `dequant`): 1.6–2× the dequant path's GFLOP/s on MiniLM's shapes (docs/benchmarks.md).
    case integer
    /// u8 × s8 → int32 with dynamic per-token asymmetric 7-bit activations (`U8S8GEMM`,
    /// `vpmaddubsw`; the same layers as `integer`). The default: faster than `integer` on every
    /// shape measured, for a slightly coarser activation grid (docs/benchmarks.md).
    case u8s8

    /// The runtime's kernel unless told otherwise.
    public static let standard = RuntimeKernel.u8s8

    /// This kernel's integer GEMM for `w`; nil for `dequant` and for schemes it does not run.
    public func integerGEMM(_ w: PackedWeight) -> (any IntegerGEMM)? {
        switch self {
        case .dequant: return nil
        case .integer: return Int8GEMM(w)
        case .u8s8: return U8S8GEMM(w)
        }
    }
}

/// A GEMM on integer codes for one packed layer: out [m, rows] = x [m, columns] · Wᵀ + bias, the
/// activations quantized on the fly.
public protocol IntegerGEMM: Sendable {
    func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>)
}

/// One Linear layer of the runtime: packed (the usual case) or dense fp32 (layers the recipe
/// left unquantized), with its bias and, when the checkpoint declares one, the static input
/// fake-quantization (`nanoforge.activations`) the fp32 path applies.
public struct RuntimeLinear: Sendable {
    public enum Weight: Sendable {
        /// The weight and, for an integer kernel, its GEMM (`RuntimeKernel.integerGEMM`).
        case packed(PackedWeight, (any IntegerGEMM)?)
        /// [out, in].
        case dense(Tensor)
    }
    public let name: String
    public let weight: Weight
    public let bias: [Float]?
    public let input: ActivationQuantization?

    public init(name: String, weight: Weight, bias: [Float]?, input: ActivationQuantization?) {
        self.name = name; self.weight = weight; self.bias = bias; self.input = input
    }

    public var outFeatures: Int {
        switch weight { case .packed(let w, _): return w.rows; case .dense(let w): return w.shape[0] }
    }
    public var inFeatures: Int {
        switch weight { case .packed(let w, _): return w.columns; case .dense(let w): return w.shape[1] }
    }

    /// x: [m, in] → [m, out].
    public func callAsFunction(_ x: Tensor, kernel: RuntimeKernel) -> Tensor {
        let m = x.shape[0], n = outFeatures
        let input = self.input.map { $0.apply(x) } ?? x
        if case .dense(let w) = weight {
            return Tensor.linear(input, weight: w, bias: bias.map { Tensor(shape: [n], scalars: $0) })
        }
        var out = [Float](repeating: 0, count: m * n)
        input.scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                let bias = self.bias
                bias.withOptionalPointer { pb in
                    switch weight {
                    case .packed(let w, let integer):
                        if kernel != .dequant, let integer {
                            integer.forward(px.baseAddress!, m: m, bias: pb, out: po.baseAddress!)
                        } else {
                            PackedLinear.forward(px.baseAddress!, m: m, weight: w, bias: pb, out: po.baseAddress!)
                        }
                    case .dense:
                        break  // handled above
                    }
                }
            }
        }
        return Tensor(shape: [m, n], scalars: out)
    }
}

extension RuntimeLinear {
    /// This layer with `kernel`'s integer GEMM attached to its packed weight (nil where the kernel
    /// does not run the scheme, so that layer falls back to `dequant`).
    public func with(_ kernel: RuntimeKernel) -> RuntimeLinear {
        guard case .packed(let w, _) = weight else { return self }
        return RuntimeLinear(name: name, weight: .packed(w, kernel.integerGEMM(w)), bias: bias, input: input)
    }

    /// One layer computing `layers` on the same input side by side, out = [y₀ | y₁ | …]: the
    /// attention's query, key and value as one activation quantization and one parallel GEMM
    /// instead of three. nil unless every layer is packed, has no static input quantization and
    /// together they form a weight `kernel`'s integer GEMM runs (same K, per-row scales).
    public static func concatenated(_ layers: [RuntimeLinear], name: String, kernel: RuntimeKernel) -> RuntimeLinear? {
        var weights: [PackedWeight] = []
        for layer in layers {
            guard case .packed(let w, _) = layer.weight, layer.input == nil, w.storage == .int8, w.offsets == nil,
                  w.columns == layers[0].inFeatures, w.groupSize == w.columns, w.signed == weights.first?.signed ?? w.signed else { return nil }
            weights.append(w)
        }
        guard let first = weights.first else { return nil }
        let fused = PackedWeight(rows: weights.map(\.rows).reduce(0, +), columns: first.columns, storage: .int8, signed: first.signed,
                                 groupSize: first.columns, scales: weights.flatMap(\.scales), offsets: nil, codes: weights.flatMap(\.codes))
        guard let gemm = kernel.integerGEMM(fused) else { return nil }
        let bias = layers.allSatisfy({ $0.bias == nil }) ? nil : layers.flatMap { $0.bias ?? [Float](repeating: 0, count: $0.outFeatures) }
        return RuntimeLinear(name: name, weight: .packed(fused, gemm), bias: bias, input: nil)
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}
