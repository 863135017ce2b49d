import Foundation
import CBLAS

extension Tensor {
    /// Matrix product through `cblas_sgemm`.
    ///
    /// `a`: [..., m, k] (or [..., k, m] with `transposeA`), `b`: [..., k, n] (or [..., n, k] with
    /// `transposeB`). Leading batch axes broadcast; transposes are handed to BLAS, never copied.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands need rank ≥ 2, got \(a.shape) and \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == k2, "matmul: inner extents differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        guard let batch = Broadcast.shape(aBatch, bBatch) else {
            preconditionFailure("matmul: batch shapes \(aBatch) and \(bBatch) do not broadcast")
        }
        let batchCount = batch.elementCount
        if batchCount * m * n == 0 { return Tensor.zeros(batch + [m, n]) }
        if k == 0 { return Tensor.zeros(batch + [m, n]) }

        // sgemm with beta = 0 writes every element, so the output needs no zero-fill.
        let out = [Float](unsafeUninitializedCapacity: batchCount * m * n) { po, initialized in
            initialized = batchCount * m * n
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    // One big GEMM when b is shared by every batch and a's rows are contiguous.
                    if bBatch.elementCount == 1 && !transposeA {
                        parallelSGEMM(pa.baseAddress!, transposeA, pb.baseAddress!, transposeB, po.baseAddress!,
                                      m: batchCount * m, n: n, k: k, lda: ac, ldb: bc)
                        return
                    }
                    let aStrides = Broadcast.strides(of: aBatch, in: batch)
                    let bStrides = Broadcast.strides(of: bBatch, in: batch)
                    let batchStrides = batch.rowMajorStrides
                    let (baseA, baseB, baseO) = (pa.baseAddress!, pb.baseAddress!, po.baseAddress!)
                    func batchOffsets(_ index: Int) -> (Int, Int) {
                        var offA = 0, offB = 0, rest = index
                        for axis in 0..<batch.count {
                            let i = rest / batchStrides[axis]
                            rest -= i * batchStrides[axis]
                            offA += i * aStrides[axis]
                            offB += i * bStrides[axis]
                        }
                        return (offA, offB)
                    }
                    func product(_ index: Int) {
                        let (offA, offB) = batchOffsets(index)
                        sgemm(baseA + offA * ar * ac, transposeA, baseB + offB * br * bc, transposeB,
                              baseO + index * m * n, m: m, n: n, k: k, lda: ac, ldb: bc)
                    }
                    if batchCount >= Parallel.workers && Parallel.workers > 1 {
                        // Many products (attention heads): whole products per core.
                        Parallel.forRanges(batchCount, grain: 1) { r in for index in r { product(index) } }
                    } else {
                        for index in 0..<batchCount {
                            let (offA, offB) = batchOffsets(index)
                            parallelSGEMM(baseA + offA * ar * ac, transposeA, baseB + offB * br * bc, transposeB,
                                          baseO + index * m * n, m: m, n: n, k: k, lda: ac, ldb: bc)
                        }
                    }
                }
            }
        }
        return Tensor(shape: batch + [m, n], scalars: out)
    }

    /// C = op(A)·op(B) (+ C when beta is 1) with the rows of C split across `Parallel.workers`,
    /// each block a single-threaded OpenBLAS call. Measured on 2 cores: 83–87 GFLOP/s for the
    /// transformer shapes, against 65–72 with OpenBLAS's own threads (docs/benchmarks.md).
    static func parallelSGEMM(_ a: UnsafePointer<Float>, _ ta: Bool, _ b: UnsafePointer<Float>, _ tb: Bool,
                              _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, lda: Int, ldb: Int,
                              beta: Float = 0) {
        let workers = Parallel.workers
        // Below ~2 MFLOP one call is cheaper than waking another thread.
        guard workers > 1, m * n * k >= 1 << 21, Swift.max(m, n) >= 16 * workers else {
            sgemm(a, ta, b, tb, c, m: m, n: n, k: k, lda: lda, ldb: ldb, beta: beta)
            return
        }
        if m >= 16 * workers {
            // Split the rows of C: row `start` of op(A) is a row offset of A as stored, or a column
            // offset when A is transposed.
            let block = ((m + workers - 1) / workers + 7) / 8 * 8
            Parallel.perform(iterations: (m + block - 1) / block) { i in
                let start = i * block, rows = Swift.min(block, m - start)
                sgemm(ta ? a + start : a + start * lda, ta, b, tb, c + start * n,
                      m: rows, n: n, k: k, lda: lda, ldb: ldb, ldc: n, beta: beta)
            }
        } else {
            // Few rows (a single sentence): split the columns of C instead.
            let block = ((n + workers - 1) / workers + 7) / 8 * 8
            Parallel.perform(iterations: (n + block - 1) / block) { i in
                let start = i * block, columns = Swift.min(block, n - start)
                sgemm(a, ta, tb ? b + start * ldb : b + start, tb, c + start,
                      m: m, n: columns, k: k, lda: lda, ldb: ldb, ldc: n, beta: beta)
            }
        }
    }

    /// C[m,n] = op(A)·op(B), row-major, overwriting C; one OpenBLAS call on the calling thread.
    @inline(__always)
    static func sgemm(_ a: UnsafePointer<Float>, _ ta: Bool, _ b: UnsafePointer<Float>, _ tb: Bool,
                      _ c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, lda: Int, ldb: Int,
                      ldc: Int? = nil, beta: Float = 0) {
        _ = BLASThreads.singleThreaded
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc ?? n))
    }
}

/// nanoforge splits GEMMs across cores itself (`Parallel.workers`), so OpenBLAS runs one thread
/// per call: its own pool would nest inside ours, and its idle workers spin (sched_yield) on the
/// cores that the elementwise kernels need.
public enum BLASThreads {
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Call before issuing CBLAS calls directly (outside `Tensor.matmul`), from any thread.
    public static func ensureSingleThreaded() { _ = singleThreaded }

}

extension Tensor {
    /// `x · wᵀ + bias` for x: [n, in], w: [out, in], bias: [out], with the bias broadcast into
    /// the output first and the product accumulated onto it (one pass over the output, not two).
    public static func linear(_ x: Tensor, weight w: Tensor, bias: Tensor?) -> Tensor {
        precondition(x.rank == 2 && w.rank == 2 && x.shape[1] == w.shape[1],
                     "linear: input \(x.shape) does not match weight \(w.shape) ([out, in])")
        let (n, inFeatures, outFeatures) = (x.shape[0], x.shape[1], w.shape[0])
        if let bias { precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) does not match weight \(w.shape)") }
        if n * outFeatures == 0 || inFeatures == 0 {
            return bias.map { Tensor.zeros([n, outFeatures]) + $0 } ?? Tensor.zeros([n, outFeatures])
        }
        let out = [Float](unsafeUninitializedCapacity: n * outFeatures) { po, initialized in
            initialized = n * outFeatures
            let o = po.baseAddress!
            if let bias {
                bias.scalars.withUnsafeBufferPointer { pb in
                    for row in 0..<n { (o + row * outFeatures).update(from: pb.baseAddress!, count: outFeatures) }
                }
            }
            x.scalars.withUnsafeBufferPointer { px in
                w.scalars.withUnsafeBufferPointer { pw in
                    parallelSGEMM(px.baseAddress!, false, pw.baseAddress!, true, o, m: n, n: outFeatures, k: inFeatures,
                                  lda: inFeatures, ldb: inFeatures, beta: bias == nil ? 0 : 1)
                }
            }
        }
        return Tensor(shape: [n, outFeatures], scalars: out)
    }
}
