import Foundation
import CBLAS

/// Fused forms of steps an inference forward pass would otherwise do as separate passes over
/// its activations (each pass a fresh array): a residual add folded into the product before it,
/// and SwiGLU's SiLU·mul in one loop.
extension Tensor {
    /// `y += x · wᵀ + bias` in place, for x: [n, in], w: [out, in], y: [n, out] — a Linear whose
    /// output is added to the residual stream, with the sum accumulated by the GEMM itself
    /// (beta = 1) instead of a product array and an add. Few rows go through sgemv, as in
    /// `linearFewRows`.
    public static func addLinear(_ x: Tensor, weight w: Tensor, bias: Tensor?, into y: inout Tensor) {
        precondition(x.rank == 2 && w.rank == 2 && x.shape[1] == w.shape[1],
                     "addLinear: input \(x.shape) does not match weight \(w.shape) ([out, in])")
        let (n, inFeatures, outFeatures) = (x.shape[0], x.shape[1], w.shape[0])
        precondition(y.count == n * outFeatures, "addLinear: output \(y.shape) does not hold \(n) × \(outFeatures)")
        if let bias { precondition(bias.shape == [outFeatures], "addLinear: bias \(bias.shape) does not match weight \(w.shape)") }
        guard n * outFeatures > 0 else { return }
        y.scalars.withUnsafeMutableBufferPointer { po in
            let o = po.baseAddress!
            if let bias {
                bias.scalars.withUnsafeBufferPointer { pb in
                    for row in 0..<n { for j in 0..<outFeatures { o[row * outFeatures + j] += pb[j] } }
                }
            }
            guard inFeatures > 0 else { return }
            x.scalars.withUnsafeBufferPointer { px in
                w.scalars.withUnsafeBufferPointer { pw in
                    if n <= fewRowsForMatrixVector {
                        accumulateFewRows(px.baseAddress!, pw.baseAddress!, o, rows: n, inFeatures: inFeatures, outFeatures: outFeatures)
                    } else {
                        parallelSGEMM(px.baseAddress!, false, pw.baseAddress!, true, o, m: n, n: outFeatures, k: inFeatures,
                                      lda: inFeatures, ldb: inFeatures, beta: 1)
                    }
                }
            }
        }
    }

    /// Up to this many rows `addLinear` uses matrix-vector products (the weight streamed once
    /// per row, no packing), as Llama decoding's `linearFewRows` cut-over.
    public static let fewRowsForMatrixVector = 4

    /// o[r] += w · x[r] per row, the rows of w split across `Parallel.workers` as in `linearFewRows`.
    private static func accumulateFewRows(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>,
                                          rows n: Int, inFeatures: Int, outFeatures: Int) {
        BLASThreads.ensureSingleThreaded()
        let blocks = Swift.max(1, Swift.min(Parallel.workers, outFeatures / 64, outFeatures * inFeatures / (1 << 18)))
        let blockRows = (outFeatures + blocks - 1) / blocks
        func block(_ b: Int) {
            let start = b * blockRows, count = Swift.min(blockRows, outFeatures - start)
            guard count > 0 else { return }
            for row in 0..<n {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(inFeatures), 1, w + start * inFeatures,
                            Int32(inFeatures), x + row * inFeatures, 1, 1, o + row * outFeatures + start, 1)
            }
        }
        if blocks == 1 { block(0) } else { Parallel.perform(iterations: blocks, block) }
    }

    /// `gate ← silu(gate) ⊙ up` in place (SwiGLU's hidden activation), one pass split across cores.
    public static func siluMultiply(_ gate: inout Tensor, by up: Tensor) {
        precondition(gate.shape == up.shape, "siluMultiply: gate \(gate.shape) and up \(up.shape) differ")
        let count = gate.count
        gate.scalars.withUnsafeMutableBufferPointer { pg in
            up.scalars.withUnsafeBufferPointer { pu in
                guard let g = pg.baseAddress, let u = pu.baseAddress else { return }
                Parallel.forRanges(count) { r in
                    for i in r { g[i] = g[i] * FastMath.sigmoid(g[i]) * u[i] }
                }
            }
        }
    }
}
