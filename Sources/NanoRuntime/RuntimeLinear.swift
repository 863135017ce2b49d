import CBLAS
import NanoQuant
import NanoTensor

/// How the runtime computes its packed layers.
///
/// The default, `scheme`, computes what the model's stored quantization scheme means and nothing
/// coarser, so that the runtime reproduces the report's figures to float summation order:
/// - weight-only layers (no `nanoforge.activations` entry) keep float activations: the
///   dequantize-on-the-fly GEMM (`PackedLinear`);
/// - static activations: the stored per-tensor fake quantization, then that GEMM;
/// - dynamic per-token int8 activations (`activations: {mode: dynamic}`): `Int8GEMM` where the
///   weight is symmetric per-channel int8 (it quantizes each token exactly as evaluation does),
///   else the per-token fake quantization and the dequantizing GEMM.
///
/// `s8s8-8bit` and `u8s8-7bit` are opt-in approximations that quantize the activations of every
/// symmetric per-channel int8 layer per token whatever the recipe said: faster, and further from
/// the model that the report measured (`approximates`).
public enum RuntimeKernel: String, Sendable, CaseIterable {
    /// What the stored scheme computes (see above). The default.
    case scheme
    /// Dequantize-on-the-fly panels + fp32 sgemm for every packed layer, the stored activation
    /// quantization applied as fake quantization: the same numerics as `scheme`, no integer GEMM.
    case dequant
    /// int8 × int8 → int32 with dynamic per-token symmetric int8 activations on Int16-widened
    /// operands (`Int8GEMM`, `vpmaddwd`) on every symmetric per-channel int8 layer, other layers
    /// keep `dequant`: 1.6–2× the dequant path's GFLOP/s on MiniLM's shapes (docs/benchmarks.md).
    case integer = "s8s8-8bit"
    /// u8 × s8 → int32 with dynamic per-token asymmetric 7-bit activations (`U8S8GEMM`,
    /// `vpmaddubsw`; the same layers as `integer`): faster than `integer` on every shape
    /// measured, for a coarser activation grid (docs/benchmarks.md).
    case u8s8 = "u8s8-7bit"

    /// The runtime's kernel unless told otherwise.
    public static let standard = RuntimeKernel.scheme

    /// The kernel called `name`: its raw value, or the names of earlier releases (`integer`, `u8s8`).
    public init?(name: String) {
        switch name {
        case "integer": self = .integer
        case "u8s8": self = .u8s8
        default: self.init(rawValue: name)
        }
    }

    /// Whether this kernel quantizes activations that the model's scheme keeps in float, so that
    /// its outputs differ from what the compression report measured.
    public var approximates: Bool { self == .integer || self == .u8s8 }

    /// A line for reports and command output when the kernel `approximates`, else nil.
    public var approximationNote: String? {
        switch self {
        case .scheme, .dequant: return nil
        case .integer: return "kernel s8s8-8bit (approximate): activations of int8 layers quantized to 8 bits per token whatever the recipe said; outputs differ from the compression report's"
        case .u8s8: return "kernel u8s8-7bit (approximate): activations of int8 layers quantized to 7 bits per token whatever the recipe said; outputs differ from the compression report's"
        }
    }

    /// This kernel's integer GEMM for `w` with input quantization `input`; nil where the layer
    /// runs the dequantizing GEMM.
    public func integerGEMM(_ w: PackedWeight, input: ActivationQuantization?) -> (any IntegerGEMM)? {
        switch self {
        case .dequant: return nil
        case .scheme:
            // Exact only for the grid Int8GEMM quantizes to: 8-bit symmetric per token.
            guard let input, input.perToken, input.bits == 8 else { return nil }
            return Int8GEMM(w)
        case .integer: return Int8GEMM(w)
        case .u8s8: return U8S8GEMM(w)
        }
    }
}

/// A GEMM on integer codes for one packed layer: out [m, rows] = x [m, columns] · Wᵀ + bias, the
/// activations quantized on the fly.
public protocol IntegerGEMM: Sendable {
    func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>)
    /// Whether `forwardGELU` fuses the activation (the AVX-512 VNNI kernels).
    var fusesGELU: Bool { get }
    /// `forward` with GELU (erf form) applied to the outputs inside the GEMM (the same bits as
    /// `Tensor.gelu` afterwards) where `fusesGELU`; false, with nothing computed, where not.
    func forwardGELU(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) -> Bool
}

extension IntegerGEMM {
    public var fusesGELU: Bool { false }
    public func forwardGELU(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) -> Bool { false }
}

/// One Linear layer of the runtime: packed (the usual case) or dense fp32 (layers the recipe
/// left unquantized), with its bias and, when the checkpoint declares one, the input
/// quantization (`nanoforge.activations`, static or dynamic per token) the fp32 path applies.
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

    /// x: [m, in] → [m, out]. An attached integer GEMM runs unless `kernel` is `dequant`; it
    /// quantizes its input per token itself, so a dynamic input quantization is not applied twice.
    public func callAsFunction(_ x: Tensor, kernel: RuntimeKernel) -> Tensor {
        let m = x.shape[0], n = outFeatures
        var integerRuns = false
        if case .packed(_, let integer) = weight, integer != nil, kernel != .dequant { integerRuns = true }
        let input = self.input.map { integerRuns && $0.perToken ? x : $0.apply(x) } ?? x
        if case .dense(let w) = weight {
            return Tensor.linear(input, weight: w, bias: bias.map { Tensor(shape: [n], scalars: $0) })
        }
        // Every GEMM below writes all m · n outputs (the integer GEMMs store every tile, PackedLinear
        // copies the bias or has sgemm's β = 0 overwrite): no zero-fill of a buffer that large.
        let out = [Float](unsafeUninitializedCapacity: m * n) { po, initialized in
            input.scalars.withUnsafeBufferPointer { px in
                let bias = self.bias
                bias.withOptionalPointer { pb in
                    guard m * n > 0, case .packed(let w, let integer) = weight else { return }
                    guard w.columns > 0 else {  // no products: the bias (a k = 0 sgemm may leave out untouched)
                        for i in 0..<m { for j in 0..<n { po[i * n + j] = pb?[j] ?? 0 } }
                        return
                    }
                    if integerRuns, let integer {
                        integer.forward(px.baseAddress!, m: m, bias: pb, out: po.baseAddress!)
                    } else {
                        PackedLinear.forward(px.baseAddress!, m: m, weight: w, bias: pb, out: po.baseAddress!)
                    }
                }
            }
            initialized = m * n
        }
        return Tensor(shape: [m, n], scalars: out)
    }
}

extension RuntimeLinear {
    /// GELU (erf form) of this layer's output, computed inside the integer GEMM where it can
    /// (`IntegerGEMM.forwardGELU`); nil where it cannot, and the caller applies the activation.
    /// The same bits as `self(x, kernel:).gelu(approximation: .erf)`.
    public func fusedGELU(_ x: Tensor, kernel: RuntimeKernel) -> Tensor? {
        guard fusesGELU(kernel), case .packed(_, let integer?) = weight else { return nil }
        let m = x.shape[0], n = outFeatures
        guard m * n > 0 else { return nil }
        var fused = false
        let out = [Float](unsafeUninitializedCapacity: m * n) { po, initialized in
            x.scalars.withUnsafeBufferPointer { px in
                bias.withOptionalPointer { pb in fused = integer.forwardGELU(px.baseAddress!, m: m, bias: pb, out: po.baseAddress!) }
            }
            // Unfused: nothing was written; the buffer is dropped.
            initialized = fused ? m * n : 0
        }
        return fused ? Tensor(shape: [m, n], scalars: out) : nil
    }

    /// Whether `fusedGELU` computes this layer under `kernel`: an attached integer GEMM that
    /// fuses it, which runs for this kernel and quantizes its input itself (per token).
    public func fusesGELU(_ kernel: RuntimeKernel) -> Bool {
        guard kernel != .dequant, input.map({ $0.perToken }) ?? true, case .packed(let w, let integer?) = weight else { return false }
        return w.columns > 0 && integer.fusesGELU
    }

    /// This layer with `kernel`'s integer GEMM attached to its packed weight (nil where the kernel
    /// does not run the scheme, so that layer falls back to `dequant`).
    public func with(_ kernel: RuntimeKernel) -> RuntimeLinear {
        guard case .packed(let w, _) = weight else { return self }
        return RuntimeLinear(name: name, weight: .packed(w, kernel.integerGEMM(w, input: input)), bias: bias, input: input)
    }

    /// One layer computing `layers` on the same input side by side, out = [y₀ | y₁ | …]: the
    /// attention's query, key and value as one activation quantization and one parallel GEMM
    /// instead of three. nil unless every layer is packed, has the same input quantization and
    /// none static (per-token codes of one input are the same for all three), and together they
    /// form a weight `kernel`'s integer GEMM runs (same K, per-row scales).
    public static func concatenated(_ layers: [RuntimeLinear], name: String, kernel: RuntimeKernel) -> RuntimeLinear? {
        var weights: [PackedWeight] = []
        for layer in layers {
            guard case .packed(let w, _) = layer.weight, layer.input == layers[0].input, layer.input.map(\.perToken) ?? true,
                  w.storage == .int8, w.offsets == nil,
                  w.columns == layers[0].inFeatures, w.groupSize == w.columns, w.signed == weights.first?.signed ?? w.signed else { return nil }
            weights.append(w)
        }
        guard let first = weights.first else { return nil }
        let fused = PackedWeight(rows: weights.map(\.rows).reduce(0, +), columns: first.columns, storage: .int8, signed: first.signed,
                                 groupSize: first.columns, scales: weights.flatMap(\.scales), offsets: nil, codes: weights.flatMap(\.codes))
        guard let gemm = kernel.integerGEMM(fused, input: layers[0].input) else { return nil }
        let bias = layers.allSatisfy({ $0.bias == nil }) ? nil : layers.flatMap { $0.bias ?? [Float](repeating: 0, count: $0.outFeatures) }
        return RuntimeLinear(name: name, weight: .packed(fused, gemm), bias: bias, input: layers[0].input)
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
