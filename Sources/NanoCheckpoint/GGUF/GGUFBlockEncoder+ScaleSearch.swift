/// The sub-block scale searches of ggml's K-quants (ggml-quants.c), transcribed operation for
/// operation: `make_qx_quants` (symmetric, weighted by x², Q6_K), `make_q3_quants` (symmetric
/// with coordinate descent, Q3_K) and `make_qkx2_quants` (scale and min by weighted least squares
/// over a grid of trial scales, Q2_K, Q4_K, Q5_K). Each returns the Float32 scale and leaves the
/// codes in `L`; sums accumulate left to right in Float32 as the C loops do.
extension GGUFBlockEncoder {
    /// ggml's `GROUP_MAX_EPS`: a group whose largest magnitude is below it is all zero.
    static let groupMaxEps: Float = 1e-15

    /// `make_qx_quants(n, nmax, x, L, rmse_type = 1, qw)`: codes in 0..<2·nmax (biased by nmax),
    /// the scale of the 19 trial scales −(nmax + 0.1·k)/max that best fits x weighted by `qw`, or
    /// by x² when `qw` is nil.
    static func makeQXQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             _ qw: UnsafePointer<Float>? = nil) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); max = x[i] }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func code(_ iscale: Float, _ i: Int) -> Int32 { Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i]))) }
        @inline(__always) func weight(_ i: Int) -> Float { qw?[i] ?? x[i] * x[i] }
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = code(iscale, i)
            L[i] = Int8(truncatingIfNeeded: l + nmax)
            let w = weight(i), fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumlx = 0; suml2 = 0
            for i in 0..<n {
                let w = weight(i), fl = Float(code(iscale, i))
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n { L[i] = Int8(truncatingIfNeeded: code(iscale, i) + nmax) }
                scale = sumlx / suml2; best = scale * sumlx
            }
        }
        return scale
    }

    /// `make_q3_quants(n, nmax, x, L, do_rmse = true)`: codes in 0..<2·nmax (biased by nmax),
    /// starting from −nmax/max and improved one code at a time (up to 5 sweeps) for the
    /// x²-weighted least-squares fit.
    static func makeQ3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); max = x[i] }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / max
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(iscale * x[i])))
            L[i] = Int8(truncatingIfNeeded: l)
            let w = x[i] * x[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i], old = Float(L[i])
                var slx = sumlx - w * x[i] * old
                guard slx > 0 else { continue }
                var sl2 = suml2 - w * old * old
                let newL = Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(x[i] * sl2 / slx)))
                guard newL != Int32(L[i]) else { continue }
                let fl = Float(newL)
                slx += w * x[i] * fl
                sl2 += w * fl * fl
                if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                    L[i] = Int8(truncatingIfNeeded: newL); sumlx = slx; suml2 = sl2
                    changed += 1
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[i] = L[i] &+ Int8(truncatingIfNeeded: nmax) }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// `make_qkx2_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad)`,
    /// which is also ggml's `make_qkx3_quants` whenever `weights` is given (the importance-matrix
    /// encoders always give it): the two differ only in `max == min` against `max <= min` for the
    /// all-equal case, and max < min cannot happen (min ≤ x[0] ≤ max, min raised only to 0 < max).
    ///
    /// codes in 0...nmax for x ≈ scale·L − min (min ≥ 0 returned separately), the best of
    /// nstep + 1 trial scales (rmin + rdelta·k + nmax)/(max − min) each refitted by weighted least
    /// squares, judged by weighted absolute (`useMAD`) or squared error.
    static func makeQKX2Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                               rmin: Float, rdelta: Float, nstep: Int, useMAD: Bool) -> Float {
        var min = x[0], max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            for i in 0..<n { L[i] = 0 }
            theMin = -min
            return 0
        }
        @inline(__always) func code(_ iscale: Float, _ i: Int) -> Int32 { Swift.max(0, Swift.min(nmax, nearestInt(iscale * (x[i] - min)))) }
        @inline(__always) func error(_ diff: Float) -> Float { useMAD ? abs(diff) : diff * diff }
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            L[i] = UInt8(truncatingIfNeeded: code(iscale, i))
            bestError += weights[i] * error(scale * Float(L[i]) + min - x[i])
        }
        if nstep < 1 {
            theMin = -min
            return scale
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = code(iscale, i)
                Laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            guard D > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var curError: Float = 0
            for i in 0..<n { curError += weights[i] * error(thisScale * Float(Laux[i]) + thisMin - x[i]) }
            if curError < bestError {
                for i in 0..<n { L[i] = Laux[i] }
                bestError = curError
                scale = thisScale
                min = thisMin
            }
        }
        theMin = -min
        return scale
    }

    /// `make_qp_quants(n, nmax, x, L, quant_weights)`: codes in 0...nmax for non-negative x ≈
    /// scale·L (the K-quants' sub-block scales and mins against the super-block's d and dmin under
    /// an importance matrix): the best of 9 trial scales (nmax + 0.1·k)/max by weighted squared
    /// error, then up to 5 sweeps of one-code-at-a-time least-squares improvement. Codes are
    /// stored as C's uint8_t (a negative code wraps, as in ggml).
    static func makeQPQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                             _ qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        for i in 0..<n { max = cMax(max, x[i]) }
        if max < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        var iscale = Float(nmax) / max
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += qw[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + Float(nmax)) / max
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = qw[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = qw[i], old = Float(L[i])
                var slx = sumlx - w * x[i] * old
                var sl2 = suml2 - w * old * old
                guard slx > 0 && sl2 > 0 else { continue }
                let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                guard newL != Int32(L[i]) else { continue }
                let fl = Float(newL)
                slx += w * x[i] * fl
                sl2 += w * fl * fl
                if slx * slx * suml2 > sumlx * sumlx * sl2 {
                    L[i] = UInt8(truncatingIfNeeded: newL); sumlx = slx; suml2 = sl2
                    changed += 1
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }
}
