import CSIMDIntrinsics
import Foundation
import NanoTensor

/// One (sentence, head) of attention without BLAS calls, for head widths that are a multiple of 8:
/// the scores and the context are products of a few thousand multiply-adds each (MiniLM: 64 × 64
/// × 32), where a library sgemm call's fixed cost (argument checks, packing both operands) is
/// most of the time. Register-blocked SIMD8 loops instead: the head's keys are transposed once into
/// a scratch [d, t rounded up to 8], so every score row is `t/8` vector accumulators fed by one
/// broadcast of q[i, c] per c; the context takes two probability rows at a time against each
/// value row. The sums run in another order than sgemm's: the test bound is 1e-5 relative.
extension RuntimeAttention {
    typealias V = SIMD8<Float>

    /// The SIMD path of `context` (head widths a multiple of 8). Tasks are (sentence, group of
    /// heads): one group per sentence when the sentences alone keep the workers busy. A task first
    /// reads its sentence's rows once, in order, copying its heads' queries and values into
    /// contiguous [head, t, d] blocks and its keys transposed into [head, d, t rounded up to 8]:
    /// read head by head in place, each head's 128-byte slices of 64 rows 4.6 KB apart were cache
    /// misses the prefetchers did not cover (half the attention's time in a profile at batch 32).
    /// The context is gathered per task and written back row by row.
    ///
    /// Under an AVX-512 `KernelSet` each head runs `nf_attention_head_avx512` (attention_kernels.c):
    /// the same operations in the same order on zmm, so the same bits; its keys are padded to 16.
    static func simdContext(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int, width: Int,
                            batch: Int, t: Int, heads: Int, scale: Float, lengths: [Int], out o: UnsafeMutablePointer<Float>,
                            kernels: KernelSet) {
        let avx512 = kernels.avx512
        let d = width / heads, tp = avx512 ? (t + 15) / 16 * 16 : (t + 7) / 8 * 8
        let groups = batch >= Parallel.workers ? 1 : min(heads, (Parallel.workers + batch - 1) / batch)
        let tasks = batch * groups, maxHeads = (heads + groups - 1) / groups
        let workers = max(1, min(Parallel.workers, tasks))
        let work = { (worker: Int) in
            let qh = UnsafeMutablePointer<Float>.allocate(capacity: maxHeads * t * d)
            let vh = UnsafeMutablePointer<Float>.allocate(capacity: maxHeads * t * d)
            let kT = UnsafeMutablePointer<Float>.allocate(capacity: maxHeads * d * tp)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: t * tp)
            let context = UnsafeMutablePointer<Float>.allocate(capacity: t * maxHeads * d)
            defer { qh.deallocate(); vh.deallocate(); kT.deallocate(); scores.deallocate(); context.deallocate() }
            var task = worker
            while task < tasks {
                let (b, g) = (task / groups, task % groups)
                let h0 = heads * g / groups, nh = heads * (g + 1) / groups - h0, cw = nh * d
                for j in 0..<t {
                    let row = (b * t + j) * ld + h0 * d
                    let (qr, kr, vr) = (q + row, k + row, v + row)
                    for hh in 0..<nh {
                        (qh + (hh * t + j) * d).update(from: qr + hh * d, count: d)
                        (vh + (hh * t + j) * d).update(from: vr + hh * d, count: d)
                    }
                    for c in 0..<cw { kT[c * tp + j] = kr[c] }
                }
                if tp > t { for c in 0..<cw { for j in t..<tp { kT[c * tp + j] = 0 } } }
                // The sentence's own keys only (as nf_attention_head_avx512): its rows' bits do not depend on the batch's padding.
                let valid = lengths[b], keys = valid > 0 ? valid : t
                for hh in 0..<nh where avx512 {
                    nf_attention_head_avx512(qh + hh * t * d, kT + hh * d * tp, vh + hh * t * d, t, tp, d, scale, valid, Masks.maskedValue,
                                             scores, context + hh * d, cw)
                }
                for hh in 0..<nh where !avx512 {
                    twoRowProduct(a: qh + hh * t * d, aStride: d, b: kT + hh * d * tp, bStride: tp, rows: t, inner: d, cols: tp, scale: scale,
                                  out: scores, outStride: tp)
                    for row in 0..<t {
                        let s = scores + row * tp
                        if valid <= 0 { for j in 0..<t { s[j] += Masks.maskedValue } }
                        softmaxRow(s, keys)
                    }
                    twoRowProduct(a: scores, aStride: tp, b: vh + hh * t * d, bStride: d, rows: t, inner: keys, cols: d, scale: 1,
                                  out: context + hh * d, outStride: cw)
                }
                for i in 0..<t { (o + (b * t + i) * width + h0 * d).update(from: context + i * cw, count: cw) }
                task += workers
            }
        }
        if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
    }

    /// The two products of a head, one loop: out[i, j] (row stride `outStride`) = scale · Σ_{c < inner}
    /// a[i, c] · b[c, j], for i < rows and j < cols (cols % 8 == 0); a and b have row strides `aStride`
    /// and `bStride`. The scores are (q, kT) with scale 1/√d and cols = t rounded up to 8 (kT is zero
    /// past t, so those columns come out 0); the context is (probabilities, v) with scale 1, which
    /// leaves every product's bits as they are.
    @inline(never)
    static func twoRowProduct(a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, bStride: Int,
                              rows: Int, inner: Int, cols: Int, scale: Float, out: UnsafeMutablePointer<Float>, outStride: Int) {
        let s = V(repeating: scale)
        var i = 0
        while i < rows {
            // Two rows at a time (the last one alone when rows is odd): each load of b feeds two
            // rows, and 8 independent accumulators hide the multiply-add latency.
            let a0 = a + i * aStride, a1 = i + 1 < rows ? a0 + aStride : a0
            var j = 0
            while j < cols {
                let vectors = cols - j >= 32 ? 4 : 1
                var r0 = V(), r1 = V(), r2 = V(), r3 = V(), w0 = V(), w1 = V(), w2 = V(), w3 = V()
                var bp = UnsafeRawPointer(b + j)
                if vectors == 4 {
                    for c in 0..<inner {
                        let x = V(repeating: a0[c]), y = V(repeating: a1[c])
                        let b0 = bp.loadUnaligned(as: V.self), b1 = bp.loadUnaligned(fromByteOffset: 32, as: V.self)
                        let b2 = bp.loadUnaligned(fromByteOffset: 64, as: V.self), b3 = bp.loadUnaligned(fromByteOffset: 96, as: V.self)
                        r0 = r0.addingProduct(x, b0); r1 = r1.addingProduct(x, b1); r2 = r2.addingProduct(x, b2); r3 = r3.addingProduct(x, b3)
                        w0 = w0.addingProduct(y, b0); w1 = w1.addingProduct(y, b1); w2 = w2.addingProduct(y, b2); w3 = w3.addingProduct(y, b3)
                        bp += 4 * bStride
                    }
                } else {
                    for c in 0..<inner {
                        let b0 = bp.loadUnaligned(as: V.self)
                        r0 = r0.addingProduct(V(repeating: a0[c]), b0); w0 = w0.addingProduct(V(repeating: a1[c]), b0)
                        bp += 4 * bStride
                    }
                }
                let o0 = UnsafeMutableRawPointer(out + i * outStride + j)
                o0.storeBytes(of: r0 * s, as: V.self)
                if vectors == 4 {
                    o0.storeBytes(of: r1 * s, toByteOffset: 32, as: V.self)
                    o0.storeBytes(of: r2 * s, toByteOffset: 64, as: V.self)
                    o0.storeBytes(of: r3 * s, toByteOffset: 96, as: V.self)
                }
                if i + 1 < rows {
                    let o1 = UnsafeMutableRawPointer(out + (i + 1) * outStride + j)
                    o1.storeBytes(of: w0 * s, as: V.self)
                    if vectors == 4 {
                        o1.storeBytes(of: w1 * s, toByteOffset: 32, as: V.self)
                        o1.storeBytes(of: w2 * s, toByteOffset: 64, as: V.self)
                        o1.storeBytes(of: w3 * s, toByteOffset: 96, as: V.self)
                    }
                }
                j += 8 * vectors
            }
            i += 2
        }
    }
}
