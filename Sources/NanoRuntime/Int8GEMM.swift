import Foundation
import NanoForge
import NanoTensor

/// int8 × int8 → int32 GEMM with dynamic per-token activation quantization, for symmetric
/// per-channel (or per-tensor) int8 weights:
///   out[i, r] = a_i · s_r · Σ_k qa[i, k] · qw[r, k] + bias[r],
/// where each input row i is quantized on the fly to the symmetric int8 grid with its own scale
/// a_i = absmax / 127 (`QuantizationNumerics.parameters` / `quantize`), and s_r is the weight
/// row's scale. Operands are widened to Int16 (weights once at load, activations per call) and
/// the K axis padded to a multiple of 16, so the inner loop is a widening Int16 multiply-add
/// reduction LLVM vectorizes (`vpmaddwd`). 1 input row × 4 weight rows share each load.
public struct Int8GEMM: Sendable {
    public static let kStep = 16
    public let rows: Int
    public let columns: Int
    /// K rounded up to `kStep`.
    public let paddedColumns: Int
    /// [rows, paddedColumns], zero-padded.
    let weights: [Int16]
    let scales: [Float]

    /// nil when `w` is not symmetric one-scale-per-row int8 (the dequantizing path handles those).
    public init?(_ w: PackedWeight) {
        guard w.storage == .int8, w.signed, w.offsets == nil, w.groupSize == w.columns else { return nil }
        rows = w.rows; columns = w.columns
        paddedColumns = (w.columns + Self.kStep - 1) / Self.kStep * Self.kStep
        var packed = [Int16](repeating: 0, count: rows * paddedColumns)
        let (columns, padded) = (columns, paddedColumns)
        packed.withUnsafeMutableBufferPointer { dst in
            w.codes.withUnsafeBufferPointer { src in
                for r in 0..<w.rows {
                    for c in 0..<columns { dst[r * padded + c] = Int16(Int8(bitPattern: src[r * columns + c])) }
                }
            }
        }
        weights = packed
        scales = w.scales
    }

    /// Quantizes each row of x [m, columns] to int8 codes (widened to Int16, zero-padded to
    /// `paddedColumns`) with its own symmetric scale.
    public func quantizeActivations(_ x: UnsafePointer<Float>, m: Int) -> (codes: [Int16], scales: [Float]) {
        var codes = [Int16](repeating: 0, count: m * paddedColumns)
        var scales = [Float](repeating: 1, count: m)
        let (lo, hi) = (QuantizationNumerics.qmin(bits: 8, symmetric: true), QuantizationNumerics.qmax(bits: 8, symmetric: true))
        codes.withUnsafeMutableBufferPointer { q in
            for i in 0..<m {
                let row = x + i * columns
                var absmax: Float = 0
                for c in 0..<columns { absmax = max(absmax, abs(row[c])) }
                let p = QuantizationNumerics.parameters(min: -absmax, max: absmax, bits: 8, symmetric: true)
                scales[i] = p.scale
                let inverse = 1 / p.scale
                for c in 0..<columns {
                    // Same grid and rounding as QuantizationNumerics.quantize, by a reciprocal multiply.
                    let v = (row[c] * inverse).rounded(.toNearestOrEven)
                    q[i * paddedColumns + c] = Int16(min(max(v, Float(lo)), Float(hi)))
                }
            }
        }
        return (codes, scales)
    }

    /// out [m, rows] = dequantized integer products + bias.
    public func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let (qa, sa) = quantizeActivations(x, m: m)
        let blocks = (rows + 3) / 4
        let workers = max(1, min(Parallel.workers, blocks / 4))
        qa.withUnsafeBufferPointer { qa in
            weights.withUnsafeBufferPointer { qw in
                scales.withUnsafeBufferPointer { sw in
                    let work = { (worker: Int) in
                        let start = blocks * worker / workers * 4, end = min(rows, blocks * (worker + 1) / workers * 4)
                        for i in 0..<m {
                            let a = qa.baseAddress! + i * paddedColumns
                            var r = start
                            while r < end {
                                let sums = Self.dot4(a, qw.baseAddress! + r * paddedColumns, paddedColumns,
                                                     count: min(4, end - r))
                                for j in 0..<min(4, end - r) {
                                    out[i * rows + r + j] = Float(sums[j]) * sa[i] * sw[r + j] + (bias?[r + j] ?? 0)
                                }
                                r += 4
                            }
                        }
                    }
                    if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
                }
            }
        }
    }

    /// Σ_k a[k]·w_j[k] for up to four weight rows w_j = w + j·ld (rows past `count` read row 0).
    @inline(__always)
    static func dot4(_ a: UnsafePointer<Int16>, _ w: UnsafePointer<Int16>, _ ld: Int, count: Int) -> SIMD4<Int32> {
        let w0 = w, w1 = w + (count > 1 ? ld : 0), w2 = w + (count > 2 ? 2 * ld : 0), w3 = w + (count > 3 ? 3 * ld : 0)
        var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
        for k in 0..<ld {
            let x = Int32(a[k])
            s0 &+= x &* Int32(w0[k]); s1 &+= x &* Int32(w1[k])
            s2 &+= x &* Int32(w2[k]); s3 &+= x &* Int32(w3[k])
        }
        return SIMD4(s0, s1, s2, s3)
    }
}
