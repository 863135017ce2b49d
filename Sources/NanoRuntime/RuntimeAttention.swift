import CBLAS
import Foundation
import NanoTensor

/// Scaled dot-product attention on the runtime's activations, fp32: for each sentence and head,
/// scores = q·kᵀ/√d (one sgemm reading the head's columns in place), the padding mask added
/// (`Masks.maskedValue`, as the fp32 path), a row softmax, then context = p·v written into the
/// head's columns. (sentence, head) pairs are spread over `Parallel.workers` threads.
enum RuntimeAttention {
    /// q, k, v: [B·T, H·d]; lengths: tokens per sentence (each query attends to its sentence's first
    /// `length` keys only, so a sentence's rows come out the same however the batch pads it).
    static func context(q: Tensor, k: Tensor, v: Tensor, batch: Int, length t: Int, heads: Int, lengths: [Int],
                        kernels: KernelSet = .current) -> Tensor {
        q.scalars.withUnsafeBufferPointer { pq in
            k.scalars.withUnsafeBufferPointer { pk in
                v.scalars.withUnsafeBufferPointer { pv in
                    context(q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!, rowStride: q.shape[1], width: q.shape[1],
                            batch: batch, length: t, heads: heads, lengths: lengths, kernels: kernels)
                }
            }
        }
    }

    /// qkv: [B·T, 3·H·d], each row q | k | v (the fused query-key-value layer's output), read in place.
    static func context(qkv: Tensor, batch: Int, length t: Int, heads: Int, lengths: [Int], kernels: KernelSet = .current) -> Tensor {
        let width = qkv.shape[1] / 3
        return qkv.scalars.withUnsafeBufferPointer { p in
            context(q: p.baseAddress!, k: p.baseAddress! + width, v: p.baseAddress! + 2 * width, rowStride: 3 * width, width: width,
                    batch: batch, length: t, heads: heads, lengths: lengths, kernels: kernels)
        }
    }

    /// q, k, v: rows of `width` values, `rowStride` apart; the context is [B·T, width].
    static func context(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, rowStride ld: Int, width: Int,
                        batch: Int, length t: Int, heads: Int, lengths: [Int], kernels: KernelSet = .current) -> Tensor {
        let d = width / heads
        let scale = 1 / Float(d).squareRoot()
        if d % 8 == 0, batch * t * width > 0 {
            // Small products: the SIMD loops of RuntimeAttention+Kernel, not sgemm calls. Every
            // element is written, so no zero-fill.
            let out = [Float](unsafeUninitializedCapacity: batch * t * width) { po, initialized in
                simdContext(q: q, k: k, v: v, ld: ld, width: width, batch: batch, t: t, heads: heads, scale: scale, lengths: lengths,
                            out: po.baseAddress!, kernels: kernels)
                initialized = batch * t * width
            }
            return Tensor(shape: [batch * t, width], scalars: out)
        }
        var out = [Float](repeating: 0, count: batch * t * width)
        let tasks = batch * heads
        let workers = max(1, min(Parallel.workers, tasks))
        BLASThreads.ensureSingleThreaded()
        out.withUnsafeMutableBufferPointer { po in
            let o = po.baseAddress!
            let work = { (worker: Int) in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
                defer { scores.deallocate() }
                var task = worker
                while task < tasks {
                    let (b, h) = (task / heads, task % heads)
                    let base = b * t * ld + h * d
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(t), Int32(d), scale,
                                q + base, Int32(ld), k + base, Int32(ld), 0, scores, Int32(t))
                    // The sentence's own keys only, as in simdContext (bits independent of the batch's padding).
                    let valid = lengths[b], keys = valid > 0 ? valid : t
                    for row in 0..<t {
                        let s = scores + row * t
                        if valid <= 0 { for j in 0..<t { s[j] += Masks.maskedValue } }
                        softmaxRow(s, keys)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(d), Int32(keys), 1,
                                scores, Int32(t), v + base, Int32(ld), 0, o + b * t * width + h * d, Int32(width))
                    task += workers
                }
            }
            if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
        }
        return Tensor(shape: [batch * t, width], scalars: out)
    }

    /// A row's softmax in place: the maximum and the sum over SIMD8 lanes (scalar loops here were
    /// half the attention's time at 64 keys), the exponentials by `FastMath.exp`.
    @inline(__always)
    static func softmaxRow(_ s: UnsafeMutablePointer<Float>, _ n: Int) {
        let raw = UnsafeMutableRawPointer(s)
        var m8 = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        while j + 8 <= n {
            // A compare and a blend: stdlib's generic pointwiseMax was an out-of-line call here.
            let x = raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
            m8.replace(with: x, where: x .> m8)
            j += 8
        }
        var m = m8.max()
        while j < n { m = max(m, s[j]); j += 1 }
        for j in 0..<n { s[j] -= m }
        FastMath.exp(s, s, count: n)
        var t8 = SIMD8<Float>()
        j = 0
        while j + 8 <= n { t8 = t8 + raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self); j += 8 }
        var total = t8.sum()
        while j < n { total += s[j]; j += 1 }
        let inverse = 1 / total
        for j in 0..<n { s[j] *= inverse }
    }
}
