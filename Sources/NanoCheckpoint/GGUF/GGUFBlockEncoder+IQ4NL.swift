/// IQ4_NL, encoded as `quantize_iq4_nl` (ggml-quants.c) does without an importance matrix: this
/// is what `ggml_quantize_chunk` and `llama-quantize` write. (`quantize_row_iq4_nl_ref` differs:
/// it skips the scale search and leaves an all-zero block's codes undefined.)
///
/// Per 32-element block: codes index the 16 non-linear levels (`GGUFBlocks.iq4nlLevels`), the
/// nearest level to x / d; d is the best of 15 trial scales (levels[0] + k)/max, k = −7…7, each
/// refitted by least squares weighted by x², stored as f16. The final codes use the unrounded d.
///
/// With an importance matrix (`quantize_iq4_nl` with quant_weights, the same
/// `quantize_row_iq4_nl_impl`), the weight of x is qw · √(σ² + x²), σ² = 2·Σx²/32 over the block.
extension GGUFBlockEncoder {
    /// ggml's `best_index_int8`: the index of the level nearest to `x` (the upper on ties), by
    /// bisection over the ascending `levels`.
    @inline(__always) static func nearestLevel(_ levels: UnsafePointer<Int8>, _ n: Int, _ x: Float) -> Int {
        if x <= Float(levels[0]) { return 0 }
        if x >= Float(levels[n - 1]) { return n - 1 }
        var ml = 0, mu = n - 1
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < Float(levels[mav]) { mu = mav } else { ml = mav }
        }
        return x - Float(levels[mu - 1]) < Float(levels[mu]) - x ? mu - 1 : mu
    }

    /// `importance`: the per-column weights of the blocks' columns (advanced by 32 per block), or nil.
    static func encodeIQ4_NL(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>,
                             importance: UnsafePointer<Float>? = nil) {
        GGUFBlocks.iq4nlLevels.withUnsafeBufferPointer { table in
            let levels = table.baseAddress!
            let ntry = 7
            let L = Scratch<UInt8>(32), weight = Scratch<Float>(32)
            defer { L.free(); weight.free() }
            for b in 0..<blocks {
                let xb = x + 32 * b, y = out + 18 * b
                if let qw = importance.map({ $0 + 32 * b }) {
                    var sigma2: Float = 0
                    for j in 0..<32 { sigma2 += xb[j] * xb[j] }
                    sigma2 *= 2 / 32
                    for j in 0..<32 { weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                } else {
                    for j in 0..<32 { weight[j] = xb[j] * xb[j] }
                }
                var amax: Float = 0, max: Float = 0
                for j in 0..<32 where abs(xb[j]) > amax { amax = abs(xb[j]); max = xb[j] }
                var scale: Float = 0
                if amax >= groupMaxEps {
                    var d = -max / Float(levels[0])
                    var id = 1 / d
                    var sumqx: Float = 0, sumq2: Float = 0
                    for j in 0..<32 {
                        let q = Float(levels[nearestLevel(levels, 16, id * xb[j])]), w = weight[j]
                        sumqx += w * q * xb[j]
                        sumq2 += w * q * q
                    }
                    d = sumq2 > 0 ? sumqx / sumq2 : 0
                    var best = d * sumqx
                    for itry in -ntry...ntry {
                        id = Float(itry + Int(levels[0])) / max
                        sumqx = 0; sumq2 = 0
                        for j in 0..<32 {
                            let q = Float(levels[nearestLevel(levels, 16, id * xb[j])]), w = weight[j]
                            sumqx += w * q * xb[j]
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            d = sumqx / sumq2; best = d * sumqx
                        }
                    }
                    scale = d
                }
                storeF16(scale, y)
                let id: Float = scale != 0 ? 1 / scale : 0
                for j in 0..<32 { L[j] = UInt8(truncatingIfNeeded: nearestLevel(levels, 16, id * xb[j])) }
                for j in 0..<16 { y[2 + j] = L[j] | L[16 + j] << 4 }
            }
        }
    }
}
