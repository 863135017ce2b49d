/// ggml's K-quant super-blocks under an importance matrix, encoded as `quantize_row_q2_K_impl` …
/// `quantize_row_q5_K_impl` (ggml-quants.c) do when `ggml_quantize_chunk` is given quant_weights
/// (Q6_K's `_impl` only swaps the scale search's weights: `encodeQ6_K(importance:)`).
///
/// Each element's weight is qw[column] · √(σ² + x²), σ² = Σx²/256 (Q2_K) or 2·Σx²/256 (Q3_K, Q4_K,
/// Q5_K) over the super-block. The sub-block searches use those weights (`make_qkx3_quants` with
/// −0.9 + 0.05·k for the offset types, `make_qx_quants` for Q3_K), and the sub-block scales (and
/// mins) are quantized against the super-block's d (and dmin) by a search weighted by each
/// sub-block's total weight (`make_qp_quants`, or `make_qx_quants` for Q3_K's signed scales)
/// instead of ggml's plain max-based rounding. The codes are then recomputed from the stored
/// scales exactly as the reference encoders do (`finishQ2_K`, `finishQ3_K`, `finishQ45_K`).
extension GGUFBlockEncoder {
    /// σ² of a super-block: `factor`·Σx²/256, summed left to right as ggml does.
    @inline(__always) private static func superBlockSigma2(_ v: UnsafePointer<Float>, factor: Float) -> Float {
        var sumX2: Float = 0
        for j in 0..<256 { sumX2 += v[j] * v[j] }
        return factor == 1 ? sumX2 / 256 : factor * sumX2 / 256
    }

    /// weight[l] = qw[l]·√(σ² + x[l]²) for `count` elements; returns their sum (ggml's `sw[j]`).
    @inline(__always) private static func importanceWeights(_ v: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ sigma2: Float,
                                                            _ count: Int, into weight: UnsafeMutablePointer<Float>) -> Float {
        var sum: Float = 0
        for l in 0..<count { weight[l] = qw[l] * (sigma2 + v[l] * v[l]).squareRoot() }
        for l in 0..<count { sum += weight[l] }
        return sum
    }

    /// Q2_K under importance `qw` (the blocks' columns, advanced by 256 per block).
    static func encodeQ2_KWeighted(_ x: UnsafePointer<Float>, _ blocks: Int, _ qw: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>) {
        let L = Scratch<UInt8>(256), Laux = Scratch<UInt8>(16), weight = Scratch<Float>(16)
        let mins = Scratch<Float>(16), scales = Scratch<Float>(16), sw = Scratch<Float>(16)
        let Ls = Scratch<UInt8>(16), Lm = Scratch<UInt8>(16)
        defer { L.free(); Laux.free(); weight.free(); mins.free(); scales.free(); sw.free(); Ls.free(); Lm.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + 84 * b, qwb = qw + 256 * b
            let sigma2 = superBlockSigma2(v, factor: 1)
            for j in 0..<16 {
                sw[j] = importanceWeights(v + 16 * j, qwb + 16 * j, sigma2, 16, into: weight.p)
                scales[j] = makeQKX2Quants(16, 3, v + 16 * j, weight.p, L.p + 16 * j, &mins[j], Laux.p,
                                           rmin: -0.9, rdelta: 0.05, nstep: 36, useMAD: false)
            }
            let dm = makeQPQuants(16, 15, scales.p, Ls.p, sw.p)
            let mm = makeQPQuants(16, 15, mins.p, Lm.p, sw.p)
            storeF16(dm, y + 80)
            storeF16(mm, y + 82)
            for j in 0..<16 { y[j] = Ls[j] | Lm[j] << 4 }
            finishQ2_K(v, L.p, y)
        }
    }

    /// Q3_K under importance `qw`.
    static func encodeQ3_KWeighted(_ x: UnsafePointer<Float>, _ blocks: Int, _ qw: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>) {
        let L = Scratch<Int8>(256), scales = Scratch<Float>(16), weight = Scratch<Float>(16), sw = Scratch<Float>(16)
        let Ls = Scratch<Int8>(16)
        defer { L.free(); scales.free(); weight.free(); sw.free(); Ls.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + 110 * b, qwb = qw + 256 * b
            let sc = y + 96
            let sigma2 = superBlockSigma2(v, factor: 2)
            for j in 0..<16 {
                sw[j] = importanceWeights(v + 16 * j, qwb + 16 * j, sigma2, 16, into: weight.p)
                scales[j] = makeQXQuants(16, 4, v + 16 * j, L.p + 16 * j, weight.p)
            }
            for i in 0..<12 { sc[i] = 0 }
            let dBlock = makeQXQuants(16, 32, scales.p, Ls.p, sw.p)
            for j in 0..<16 {
                // C: int l = Ls[j]; the low nibble, then l >> 4 into the 2-bit high field.
                let l = Int32(Ls[j])
                if j < 8 { sc[j] = UInt8(truncatingIfNeeded: l & 0x0F) } else { sc[j - 8] |= UInt8(truncatingIfNeeded: (l & 0x0F) << 4) }
                sc[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << Int32(2 * (j / 4)))
            }
            storeF16(dBlock, y + 108)
            finishQ3_K(v, L.p, y)
        }
    }

    /// Q4_K (`bits` 4) and Q5_K (`bits` 5) under importance `qw`.
    static func encodeQ45_KWeighted(_ x: UnsafePointer<Float>, _ blocks: Int, _ qw: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>,
                                    bits: Int) {
        let nmax = Int32((1 << bits) - 1), typeSize = bits == 4 ? 144 : 176
        let L = Scratch<UInt8>(256), Laux = Scratch<UInt8>(32), weights = Scratch<Float>(32)
        let mins = Scratch<Float>(8), scales = Scratch<Float>(8), sw = Scratch<Float>(8)
        let Ls = Scratch<UInt8>(8), Lm = Scratch<UInt8>(8)
        defer { L.free(); Laux.free(); weights.free(); mins.free(); scales.free(); sw.free(); Ls.free(); Lm.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + typeSize * b, qwb = qw + 256 * b
            let sigma2 = superBlockSigma2(v, factor: 2)
            for j in 0..<8 {
                sw[j] = importanceWeights(v + 32 * j, qwb + 32 * j, sigma2, 32, into: weights.p)
                scales[j] = makeQKX2Quants(32, nmax, v + 32 * j, weights.p, L.p + 32 * j, &mins[j], Laux.p,
                                           rmin: -0.9, rdelta: 0.05, nstep: 36, useMAD: false)
            }
            let dBlock = makeQPQuants(8, 63, scales.p, Ls.p, sw.p)
            let mBlock = makeQPQuants(8, 63, mins.p, Lm.p, sw.p)
            for j in 0..<8 {
                // Q5_K caps the codes at 63; Q4_K stores them as they are (make_qp_quants keeps
                // them ≤ 63 unless a negative one wrapped).
                let ls = bits == 5 ? Swift.min(63, Ls[j]) : Ls[j], lm = bits == 5 ? Swift.min(63, Lm[j]) : Lm[j]
                packScaleMinK4(ls, lm, j, y + 4)
            }
            storeF16(dBlock, y)
            storeF16(mBlock, y + 2)
            finishQ45_K(v, L.p, y, bits: bits)
        }
    }
}
