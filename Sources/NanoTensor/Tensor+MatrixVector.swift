import Foundation
import CBLAS

extension Tensor {
    /// `x · wᵀ + bias` for x: [n, in] with few rows (token-by-token decoding), w: [out, in]:
    /// one `cblas_sgemv` per row, the rows of w split across `Parallel.workers`.
    ///
    /// Why not `linear`: for a single row OpenBLAS's sgemm still packs the whole weight matrix
    /// before multiplying, so a memory-bound matrix-vector product reads and writes it twice;
    /// sgemv streams it once.
    public static func linearFewRows(_ x: Tensor, weight w: Tensor, bias: Tensor?) -> Tensor {
        precondition(x.rank == 2 && w.rank == 2 && x.shape[1] == w.shape[1],
                     "linearFewRows: input \(x.shape) does not match weight \(w.shape) ([out, in])")
        let (n, inFeatures, outFeatures) = (x.shape[0], x.shape[1], w.shape[0])
        if let bias { precondition(bias.shape == [outFeatures], "linearFewRows: bias \(bias.shape) does not match weight \(w.shape)") }
        var out = [Float](repeating: 0, count: n * outFeatures)
        if let bias { for row in 0..<n { out.replaceSubrange(row * outFeatures..<(row + 1) * outFeatures, with: bias.scalars) } }
        guard inFeatures > 0 && outFeatures > 0 else { return Tensor(shape: [n, outFeatures], scalars: out) }
        BLASThreads.ensureSingleThreaded()
        let beta: Float = bias == nil ? 0 : 1
        // Blocks of at least 64 rows of w and 256 K multiply-adds: below that a thread costs more than it saves.
        let blocks = Swift.max(1, Swift.min(Parallel.workers, outFeatures / 64, outFeatures * inFeatures / (1 << 18)))
        let blockRows = (outFeatures + blocks - 1) / blocks
        x.scalars.withUnsafeBufferPointer { px in
            w.scalars.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    let (xs, ws, os) = (px.baseAddress!, pw.baseAddress!, po.baseAddress!)
                    func block(_ b: Int) {
                        let start = b * blockRows, rows = Swift.min(blockRows, outFeatures - start)
                        guard rows > 0 else { return }
                        for row in 0..<n {
                            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(inFeatures), 1, ws + start * inFeatures,
                                        Int32(inFeatures), xs + row * inFeatures, 1, beta, os + row * outFeatures + start, 1)
                        }
                    }
                    if blocks == 1 { block(0) } else { Parallel.perform(iterations: blocks, block) }
                }
            }
        }
        return Tensor(shape: [n, outFeatures], scalars: out)
    }
}
