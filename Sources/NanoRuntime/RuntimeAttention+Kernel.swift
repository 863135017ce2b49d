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

    /// scores[i, j] (row stride `tp`, t rounded up to 8) = scale · Σ_c q[i, c] · k[j, c], i, j < t.
    /// kT: scratch of d · tp floats; columns t..<tp of the scores are written (as 0).
    @inline(never)
    static func headScores(q: UnsafePointer<Float>, k: UnsafePointer<Float>, ld: Int, t: Int, d: Int, scale: Float,
                           kT: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let tp = (t + 7) / 8 * 8
        for j in 0..<t {
            let row = k + j * ld
            for c in 0..<d { kT[c * tp + j] = row[c] }
        }
        if tp > t { for c in 0..<d { for j in t..<tp { kT[c * tp + j] = 0 } } }
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
