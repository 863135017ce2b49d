import CSIMDIntrinsics

/// The row loops of layer norm and RMS norm, one per `KernelSet`: the AVX2 Swift loops below
/// (FastMath's two-SIMD8 reductions) and their AVX-512 forms in C (norm_kernels.c), which compute
/// the same operations in the same order on 16-lane vectors and so give the same bits
/// (NormDispatchTests). A set the CPU lacks runs the AVX2 loop.
enum NormKernels {
    /// Rows per thread below which splitting a norm costs more than it saves (about 64 K elements).
    static func rowGrain(_ d: Int) -> Int { max(1, (1 << 16) / max(d, 1)) }

    /// Rows `range` of x [rows, d] (or of x + residual, rounded once): y = ((h − μ₀) − δ)·s·γ + β
    /// with corrected two-pass statistics (Chan, Golub & LeVeque 1983): the rounding error of the
    /// first-pass mean μ₀ shows up as δ = mean(h − μ₀) and is removed from both the variance and
    /// the centring, which matters when |mean| ≫ std. mean and rstd, where given, receive μ₀ + δ and s.
    /// y may be x.
    static func layerNorm(_ range: Range<Int>, x: UnsafePointer<Float>, residual: UnsafePointer<Float>?, d: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
                          y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                          kernels: KernelSet) {
        if kernels.avx512 {
            nf_layer_norm_avx512(x, residual, range.lowerBound, range.upperBound, d, gamma, beta, epsilon, y, mean, rstd)
            return
        }
        for r in range {
            var x = x + r * d
            let y = y + r * d
            if let residual {
                let h = residual + r * d
                for j in 0..<d { y[j] = x[j] + h[j] }
                x = UnsafePointer(y)
            }
            let mu0 = FastMath.sum(x, count: d) / Float(d)
            let (deviation, squares) = FastMath.deviationSums(x, from: mu0, count: d)
            let delta = deviation / Float(d)
            let variance = Swift.max(squares / Float(d) - delta * delta, 0)
            let s = 1 / (variance + epsilon).squareRoot()
            mean?[r] = mu0 + delta; rstd?[r] = s
            for j in 0..<d { y[j] = beta[j].addingProduct(((x[j] - mu0) - delta) * s, gamma[j]) }
        }
    }

    /// Rows `range` of x [rows, d]: y = x·s·γ, s = 1/√(mean(x²) + ε) (written to rstd).
    static func rmsNorm(_ range: Range<Int>, x: UnsafePointer<Float>, d: Int, gamma: UnsafePointer<Float>, epsilon: Float,
                        y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, kernels: KernelSet) {
        if kernels.avx512 {
            nf_rms_norm_avx512(x, range.lowerBound, range.upperBound, d, gamma, epsilon, y, rstd)
            return
        }
        for r in range {
            let x = x + r * d, y = y + r * d
            let s = 1 / (FastMath.dot(x, x, count: d) / Float(d) + epsilon).squareRoot()
            rstd[r] = s
            for j in 0..<d { y[j] = x[j] * s * gamma[j] }
        }
    }
}
