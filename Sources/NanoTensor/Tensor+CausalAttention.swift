import Foundation
import CBLAS

extension Tensor {
    /// Causal scaled dot-product attention for inference, in the token-major layouts a decoder's
    /// projections and KV cache already have, without masks, permutes or copies.
    ///
    /// - `queries`: [T, heads·D], query i of head h at `queries[i, h·D ..< (h+1)·D]`; query i sits at
    ///   position `length − T + i` and sees keys `0 ... length − T + i`.
    /// - `keys`, `values`: [kvHeads, capacity, D] (a KV cache's storage), positions `0..<length` used.
    ///   Query head h reads key/value head h / (heads / kvHeads) (grouped-query attention).
    /// - Returns [T, heads·D], softmax(q·kᵀ/√D)·v per head, laid out as the output projection reads it.
    ///
    /// Why not `scaledDotProduct` with a mask: that forms every score, masked ones included, in
    /// [H, T, S] and adds a mask tensor. Here query rows go in blocks of `blockRows`: a block's
    /// scores cover only the keys its last row sees (the upper triangle is never computed, about
    /// half the products of a prompt), the keys a row must not see are set to exactly 0 after
    /// its softmax (as e^(−10⁹) is), and blocks of every head run in parallel.
    public static func causalAttention(queries: Tensor, keys: Tensor, values: Tensor, heads: Int, length: Int) -> Tensor {
        precondition(queries.rank == 2 && keys.rank == 3 && values.shape == keys.shape,
                     "causalAttention: queries \(queries.shape) must be [T, heads·D], keys \(keys.shape) and values \(values.shape) [kvHeads, capacity, D]")
        let (kvHeads, capacity, d) = (keys.shape[0], keys.shape[1], keys.shape[2])
        let t = queries.shape[0]
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "causalAttention: \(heads) heads do not divide into \(kvHeads) key/value heads")
        precondition(queries.shape[1] == heads * d, "causalAttention: queries \(queries.shape) do not hold \(heads) heads of \(d)")
        precondition(t <= length && length <= capacity, "causalAttention: \(t) queries, \(length) keys, capacity \(capacity)")
        let width = heads * d
        guard t > 0 && d > 0 else { return Tensor.zeros([t, width]) }
        let group = heads / kvHeads, offset = length - t
        let scale = 1 / Float(d).squareRoot()
        let blockRows = Swift.min(t, causalBlockRows)
        let blocks = (t + blockRows - 1) / blockRows
        BLASThreads.ensureSingleThreaded()
        let out = [Float](unsafeUninitializedCapacity: t * width) { po, initialized in
            initialized = t * width
            queries.scalars.withUnsafeBufferPointer { pq in
                keys.scalars.withUnsafeBufferPointer { pk in
                    values.scalars.withUnsafeBufferPointer { pv in
                        let (q0, k0, v0, o0) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, po.baseAddress!)
                        // Task i: head i / blocks, query rows of block i % blocks.
                        func task(_ i: Int) {
                            let h = i / blocks, b = i % blocks
                            let first = b * blockRows, rows = Swift.min(blockRows, t - first)
                            let seen = offset + first + rows                     // keys the block's last row sees
                            let k = k0 + (h / group) * capacity * d, v = v0 + (h / group) * capacity * d
                            let q = q0 + first * width + h * d, o = o0 + first * width + h * d
                            withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * seen) { scratch in
                                attendBlock(q, k, v, o, rows: rows, seen: seen, visible: offset + first + 1,
                                            d: d, width: width, scale: scale, scores: scratch.baseAddress!)
                            }
                        }
                        let tasks = heads * blocks
                        // Below ~1 M multiply-adds (one decoding step) waking a second thread costs more than it saves.
                        if Parallel.workers > 1 && tasks > 1 && heads * t * length * d >= 1 << 20 {
                            Parallel.perform(iterations: tasks, task)
                        } else {
                            for i in 0..<tasks { task(i) }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [t, width], scalars: out)
    }

    /// Query rows per block: large enough for an efficient GEMM, small enough that the masked
    /// part of each block's scores (the triangle on the diagonal) stays a small share.
    static let causalBlockRows = 64

    /// One head's block of `rows` queries: row r sees keys 0..<visible + r (at most `seen`).
    /// q, o: row stride `width`; k, v: [seen, d] contiguous; scores: rows × seen scratch.
    private static func attendBlock(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                    _ o: UnsafeMutablePointer<Float>, rows: Int, seen: Int, visible: Int,
                                    d: Int, width: Int, scale: Float, scores s: UnsafeMutablePointer<Float>) {
        if rows == 1 {
            // One query (a decoding step): matrix-vector products, no GEMM packing.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(seen), Int32(d), scale, k, Int32(d), q, 1, 0, s, 1)
            SoftmaxKernels.softmaxRow(s, s, s, seen)
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(seen), Int32(d), 1, v, Int32(d), s, 1, 0, o, 1)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(seen), Int32(d),
                    scale, q, Int32(width), k, Int32(d), 0, s, Int32(seen))
        for r in 0..<rows {
            let row = s + r * seen, n = visible + r
            SoftmaxKernels.softmaxRow(row, row, row, n)
            if n < seen { (row + n).update(repeating: 0, count: seen - n) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(seen),
                    1, s, Int32(seen), v, Int32(d), 0, o, Int32(width))
    }
}
