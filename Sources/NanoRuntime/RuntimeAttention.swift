import CBLAS
import Foundation
import NanoTensor

/// Scaled dot-product attention on the runtime's activations, fp32: for each sentence and head,
/// scores = q·kᵀ/√d (one sgemm reading the head's columns in place), the padding mask added
/// (`Masks.maskedValue`, as the fp32 path), a row softmax, then context = p·v written into the
/// head's columns. (sentence, head) pairs are spread over `Parallel.workers` threads.
enum RuntimeAttention {
    /// q, k, v: [B·T, H·d]; lengths: tokens per sentence (keys past the length are masked).
    static func context(q: Tensor, k: Tensor, v: Tensor, batch: Int, length t: Int, heads: Int, lengths: [Int]) -> Tensor {
        let width = q.shape[1], d = width / heads
        let scale = 1 / Float(d).squareRoot()
        var out = [Float](repeating: 0, count: batch * t * width)
        let tasks = batch * heads
        let workers = max(1, min(Parallel.workers, tasks))
        BLASThreads.ensureSingleThreaded()
        q.scalars.withUnsafeBufferPointer { pq in
            k.scalars.withUnsafeBufferPointer { pk in
                v.scalars.withUnsafeBufferPointer { pv in
                    out.withUnsafeMutableBufferPointer { po in
                        let (q, k, v, o) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, po.baseAddress!)
                        let work = { (worker: Int) in
                            let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
                            defer { scores.deallocate() }
                            var task = worker
                            while task < tasks {
                                let (b, h) = (task / heads, task % heads)
                                let base = b * t * width + h * d
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(d), scale,
                                            q + base, Int32(width), k + base, Int32(width), 0, scores, Int32(t))
                                let valid = lengths[b]
                                for row in 0..<t {
                                    let s = scores + row * t
                                    for j in valid..<t { s[j] += Masks.maskedValue }
                                    softmaxRow(s, t)
                                }
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(d), Int32(t), 1,
                                            scores, Int32(t), v + base, Int32(width), 0, o + base, Int32(width))
                                task += workers
                            }
                        }
                        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
                    }
                }
            }
        }
        return Tensor(shape: [batch * t, width], scalars: out)
    }

    @inline(__always)
    static func softmaxRow(_ s: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for j in 0..<n { m = max(m, s[j]) }
        for j in 0..<n { s[j] -= m }
        FastMath.exp(s, s, count: n)
        var total: Float = 0
        for j in 0..<n { total += s[j] }
        let inverse = 1 / total
        for j in 0..<n { s[j] *= inverse }
    }
}
