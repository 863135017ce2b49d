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
                let valid = lengths[b]
                for hh in 0..<nh where avx512 {
                    nf_attention_head_avx512(qh + hh * t * d, kT + hh * d * tp, vh + hh * t * d, t, tp, d, scale, valid, Masks.maskedValue,
                                             scores, context + hh * d, cw)
                }
                for hh in 0..<nh where !avx512 {
                    headScores(q: qh + hh * t * d, ld: d, t: t, d: d, scale: scale, kT: kT + hh * d * tp, scores: scores)
                    for row in 0..<t {
                        let s = scores + row * tp
                        for j in valid..<t { s[j] += Masks.maskedValue }
                        softmaxRow(s, t)
                    }
                    headContext(p: scores, pStride: tp, v: vh + hh * t * d, ld: d, t: t, d: d, out: context + hh * d, outStride: cw)
                }
                for i in 0..<t { (o + (b * t + i) * width + h0 * d).update(from: context + i * cw, count: cw) }
                task += workers
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
    }

    /// scores[i, j] (row stride `tp`, t rounded up to 8) = scale · Σ_c q[i, c] · kT[c, j], i, j < t;
    /// kT: [d, tp], zero past t, so columns t..<tp of the scores are written as 0.
    @inline(never)
    static func headScores(q: UnsafePointer<Float>, ld: Int, t: Int, d: Int, scale: Float,
                           kT: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let tp = (t + 7) / 8 * 8
        let s = V(repeating: scale)
        var i = 0
        while i < t {
            // Two query rows at a time (the last one alone when t is odd): each key load feeds two
            // rows, and 8 independent accumulators hide the multiply-add latency.
            let q0 = q + i * ld, q1 = i + 1 < t ? q0 + ld : q0
            let out0 = UnsafeMutableRawPointer(scores + i * tp), out1 = UnsafeMutableRawPointer(scores + min(i + 1, t - 1) * tp)
            var j = 0
            while j < tp {
                let vectors = tp - j >= 32 ? 4 : 1
                var a0 = V(), a1 = V(), a2 = V(), a3 = V(), b0 = V(), b1 = V(), b2 = V(), b3 = V()
                var p = UnsafeRawPointer(kT + j)
                if vectors == 4 {
                    for c in 0..<d {
                        let x = V(repeating: q0[c]), y = V(repeating: q1[c])
                        let k0 = p.loadUnaligned(as: V.self), k1 = p.loadUnaligned(fromByteOffset: 32, as: V.self)
                        let k2 = p.loadUnaligned(fromByteOffset: 64, as: V.self), k3 = p.loadUnaligned(fromByteOffset: 96, as: V.self)
                        a0 = a0.addingProduct(x, k0); a1 = a1.addingProduct(x, k1); a2 = a2.addingProduct(x, k2); a3 = a3.addingProduct(x, k3)
                        b0 = b0.addingProduct(y, k0); b1 = b1.addingProduct(y, k1); b2 = b2.addingProduct(y, k2); b3 = b3.addingProduct(y, k3)
                        p += 4 * tp
                    }
                } else {
                    for c in 0..<d {
                        let k0 = p.loadUnaligned(as: V.self)
                        a0 = a0.addingProduct(V(repeating: q0[c]), k0); b0 = b0.addingProduct(V(repeating: q1[c]), k0)
                        p += 4 * tp
                    }
                }
                // Row i + 1 first: when t is odd its slot is row i's, which is then written last.
                out1.storeBytes(of: b0 * s, toByteOffset: 4 * j, as: V.self)
                out0.storeBytes(of: a0 * s, toByteOffset: 4 * j, as: V.self)
                if vectors == 4 {
                    out1.storeBytes(of: b1 * s, toByteOffset: 4 * j + 32, as: V.self)
                    out1.storeBytes(of: b2 * s, toByteOffset: 4 * j + 64, as: V.self)
                    out1.storeBytes(of: b3 * s, toByteOffset: 4 * j + 96, as: V.self)
                    out0.storeBytes(of: a1 * s, toByteOffset: 4 * j + 32, as: V.self)
                    out0.storeBytes(of: a2 * s, toByteOffset: 4 * j + 64, as: V.self)
                    out0.storeBytes(of: a3 * s, toByteOffset: 4 * j + 96, as: V.self)
                }
                j += 8 * vectors
            }
            i += 2
        }
    }

    /// out[i, c] (row stride `outStride`) = Σ_{j < t} p[i, j] · v[j, c], i < t, c < d (d % 8 == 0);
    /// p has row stride `pStride`.
    @inline(never)
    static func headContext(p: UnsafePointer<Float>, pStride: Int, v: UnsafePointer<Float>, ld: Int, t: Int, d: Int,
                            out: UnsafeMutablePointer<Float>, outStride: Int) {
        var i = 0
        while i < t {
            // Two rows at a time (the last one alone when t is odd): each value load feeds two rows.
            let p0 = p + i * pStride, p1 = i + 1 < t ? p0 + pStride : p0
            var c = 0
            while c < d {
                let vectors = d - c >= 32 ? 4 : 1
                var a0 = V(), a1 = V(), a2 = V(), a3 = V(), b0 = V(), b1 = V(), b2 = V(), b3 = V()
                var vp = UnsafeRawPointer(v + c)
                if vectors == 4 {
                    for j in 0..<t {
                        let x = V(repeating: p0[j]), y = V(repeating: p1[j])
                        let v0 = vp.loadUnaligned(as: V.self), v1 = vp.loadUnaligned(fromByteOffset: 32, as: V.self)
                        let v2 = vp.loadUnaligned(fromByteOffset: 64, as: V.self), v3 = vp.loadUnaligned(fromByteOffset: 96, as: V.self)
                        a0 = a0.addingProduct(x, v0); a1 = a1.addingProduct(x, v1); a2 = a2.addingProduct(x, v2); a3 = a3.addingProduct(x, v3)
                        b0 = b0.addingProduct(y, v0); b1 = b1.addingProduct(y, v1); b2 = b2.addingProduct(y, v2); b3 = b3.addingProduct(y, v3)
                        vp += 4 * ld
                    }
                } else {
                    for j in 0..<t {
                        let v0 = vp.loadUnaligned(as: V.self)
                        a0 = a0.addingProduct(V(repeating: p0[j]), v0); b0 = b0.addingProduct(V(repeating: p1[j]), v0)
                        vp += 4 * ld
                    }
                }
                let o0 = UnsafeMutableRawPointer(out + i * outStride + c)
                o0.storeBytes(of: a0, as: V.self)
                if vectors == 4 {
                    o0.storeBytes(of: a1, toByteOffset: 32, as: V.self)
                    o0.storeBytes(of: a2, toByteOffset: 64, as: V.self)
                    o0.storeBytes(of: a3, toByteOffset: 96, as: V.self)
                }
                if i + 1 < t {
                    let o1 = UnsafeMutableRawPointer(out + (i + 1) * outStride + c)
                    o1.storeBytes(of: b0, as: V.self)
                    if vectors == 4 {
                        o1.storeBytes(of: b1, toByteOffset: 32, as: V.self)
                        o1.storeBytes(of: b2, toByteOffset: 64, as: V.self)
                        o1.storeBytes(of: b3, toByteOffset: 96, as: V.self)
                    }
                }
                c += 8 * vectors
            }
            i += 2
        }
    }
}
