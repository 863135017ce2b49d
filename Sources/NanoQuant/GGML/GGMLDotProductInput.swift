import Foundation
import NanoCheckpoint
import NanoTensor

/// What llama.cpp's CPU backend does to the activations that meet a ggml-typed matrix: before the
/// dot products, `ggml_mul_mat` converts each input row to the weight type's `vec_dot_type`. For a
/// Q4_0 matrix the input becomes Q8_0 blocks, for a K-quant Q8_K super-blocks, for F16 half
/// precision; only F32 matrices see the activations as they are. nanoforge's own evaluation keeps
/// Float32 activations, so on a file with quantized matrices its perplexity and llama-perplexity's
/// differ by that rounding (docs/formats.md). Applying this rounding to a Linear's input lets
/// `nanoforge eval --llama-cpp-arithmetic` compute what llama.cpp computes, up to summation order.
public enum GGMLDotProductInput: String, Sendable, Equatable, CaseIterable {
    /// Blocks of 32: d = max|x| / 127 stored as f16, q = round(x / d) (ggml's `quantize_row_q8_0`).
    /// Q4_1 and Q5_1 meet Q8_1, which holds the same codes and scale (plus a sum it does not change).
    case q8_0 = "Q8_0"
    /// Super-blocks of 256: by the element of largest magnitude `m`, iscale = −127 / m,
    /// q = min(127, round-half-even(iscale · x)), d = 1 / iscale kept in f32 (`quantize_row_q8_K_ref`).
    case q8_K = "Q8_K"
    /// Each value rounded to half precision.
    case f16 = "F16"

    /// The input rounding llama.cpp's CPU backend applies for a weight of `type`; nil where the
    /// activations stay Float32 (F32 weights) or nanoforge does not model it.
    public static func of(weight type: GGUFTensorType) -> GGMLDotProductInput? {
        switch type {
        case .f16: return .f16
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl: return .q8_0
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return .q8_K
        default: return nil
        }
    }

    /// Values a block holds (32, 256, or 1 for F16).
    public var blockSize: Int {
        switch self {
        case .q8_0: return 32
        case .q8_K: return 256
        case .f16: return 1
        }
    }

    /// `x` [..., in] with every row rounded as this type holds it; `in` must be whole blocks
    /// (it is, for any matrix of a ggml block type, whose rows are whole blocks of the same size or more).
    public func round(_ x: Tensor) -> Tensor {
        var out = x
        let n = x.count
        precondition(n % blockSize == 0, "GGMLDotProductInput.round: \(n) values are not whole \(rawValue) blocks")
        out.scalars.withUnsafeMutableBufferPointer { y in
            x.scalars.withUnsafeBufferPointer { v in
                for start in stride(from: 0, to: n, by: blockSize) {
                    switch self {
                    case .q8_0: Self.roundQ8_0(v.baseAddress! + start, y.baseAddress! + start)
                    case .q8_K: Self.roundQ8_K(v.baseAddress! + start, y.baseAddress! + start)
                    case .f16: y[start] = HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(v[start]))
                    }
                }
            }
        }
        return out
    }

    /// One Q8_0 block through ggml's own encoder and decoder (the bytes `quantize_row_q8_0_ref` writes).
    static func roundQ8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: GGUFTensorType.q8_0.typeSize) { block in
            GGUFBlockEncoder.encodeBlock(x, as: .q8_0, importance: nil, rowMeanSquare: 0, into: block.baseAddress!)
            // Decoded as dequantize_row_q8_0: d · q, d the stored f16 scale.
            let d = HalfPrecision.float(fromFloat16: UInt16(block[0]) | UInt16(block[1]) << 8)
            for j in 0..<32 { y[j] = d * Float(Int8(bitPattern: block[2 + j])) }
        }
    }

    static func roundQ8_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var amax: Float = 0, extreme: Float = 0
        for j in 0..<256 where abs(x[j]) > amax { (amax, extreme) = (abs(x[j]), x[j]) }
        guard amax > 0 else { for j in 0..<256 { y[j] = 0 }; return }
        let iscale = -127 / extreme, d = 1 / iscale
        for j in 0..<256 { y[j] = d * Float(min(127, (iscale * x[j]).rounded(.toNearestOrEven))) }
    }
}
