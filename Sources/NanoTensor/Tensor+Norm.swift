/// Layer normalisation and RMS normalisation over the last axis, with fused backward kernels.
///
/// Rows are contiguous: x is viewed as [rows, d]. Row statistics are computed in Float with two
/// passes over the row (the mean first, then the deviations from it), which stays accurate for
/// rows of several thousand elements even when |mean| ≫ std, unlike E[x²] - E[x]².
extension Tensor {
    /// (x - mean) / √(var + ε) · γ + β over the last axis (Ba et al. 2016), var the biased variance.
    ///
    /// `gamma` and `beta`, when given, have shape [d] where d is the last extent.
    public func layerNorm(gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> Tensor {
        layerNormWithStatistics(gamma: gamma, beta: beta, epsilon: epsilon).output
    }

    /// x / √(mean(x²) + ε) · γ over the last axis (Zhang & Sennrich 2019).
    ///
    /// `gamma`, when given, has shape [d] where d is the last extent.
    public func rmsNorm(gamma: Tensor?, epsilon: Float = 1e-6) -> Tensor {
        rmsNormWithStatistics(gamma: gamma, epsilon: epsilon).output
    }

    /// The layer norm and, per row, the mean and 1/√(var + ε) that the backward pass reuses.
    func layerNormWithStatistics(gamma: Tensor?, beta: Tensor?, epsilon: Float)
        -> (output: Tensor, mean: [Float], rstd: [Float]) {
        let (rows, d) = normLayout("layerNorm", gamma: gamma, beta: beta)
        var mean = [Float](repeating: 0, count: rows), rstd = [Float](repeating: 0, count: rows)
        let g = gamma?.scalars ?? [Float](repeating: 1, count: d)
        let b = beta?.scalars ?? [Float](repeating: 0, count: d)
        let out = [Float](unsafeUninitializedCapacity: rows * d) { dst, initialized in
            scalars.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in b.withUnsafeBufferPointer { bb in
                    guard rows * d > 0, let x0 = xb.baseAddress, let y0 = dst.baseAddress,
                          let pg = gb.baseAddress, let pb = bb.baseAddress else { return }
                    for r in 0..<rows {
                        let x = x0 + r * d, y = y0 + r * d
                        // Corrected two-pass statistics (Chan, Golub & LeVeque 1983): the rounding
                        // error of the first-pass mean μ₀ shows up as δ = mean(x - μ₀) and is removed
                        // from both the variance and the centring, which matters when |mean| ≫ std.
                        let mu0 = FastMath.sum(x, count: d) / Float(d)
                        let (deviation, squares) = FastMath.deviationSums(x, from: mu0, count: d)
                        let delta = deviation / Float(d)
                        let variance = Swift.max(squares / Float(d) - delta * delta, 0)
                        let s = 1 / (variance + epsilon).squareRoot()
                        mean[r] = mu0 + delta; rstd[r] = s
                        for j in 0..<d { y[j] = pb[j].addingProduct(((x[j] - mu0) - delta) * s, pg[j]) }
                    }
                }}
            }
            initialized = rows * d
        }
        return (Tensor(shape: shape, scalars: out), mean, rstd)
    }

    /// The RMS norm and, per row, 1/√(mean(x²) + ε) that the backward pass reuses.
    func rmsNormWithStatistics(gamma: Tensor?, epsilon: Float) -> (output: Tensor, rstd: [Float]) {
        let (rows, d) = normLayout("rmsNorm", gamma: gamma, beta: nil)
        var rstd = [Float](repeating: 0, count: rows)
        let g = gamma?.scalars ?? [Float](repeating: 1, count: d)
        let out = [Float](unsafeUninitializedCapacity: rows * d) { dst, initialized in
            scalars.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in
                    guard rows * d > 0, let x0 = xb.baseAddress, let y0 = dst.baseAddress, let pg = gb.baseAddress
                    else { return }
                    for r in 0..<rows {
                        let x = x0 + r * d, y = y0 + r * d
                        let s = 1 / (FastMath.dot(x, x, count: d) / Float(d) + epsilon).squareRoot()
                        rstd[r] = s
                        for j in 0..<d { y[j] = x[j] * s * pg[j] }
                    }
                }
            }
            initialized = rows * d
        }
        return (Tensor(shape: shape, scalars: out), rstd)
    }

    /// (rows, d) for a norm over the last axis, after checking the parameter shapes.
    func normLayout(_ what: String, gamma: Tensor?, beta: Tensor?) -> (rows: Int, d: Int) {
        precondition(rank >= 1, "\(what): needs a tensor of rank ≥ 1, got shape \(shape)")
        let d = shape[rank - 1]
        precondition(d > 0, "\(what): the last axis of \(shape) is empty")
        if let gamma {
            precondition(gamma.shape == [d], "\(what): gamma must have shape [\(d)] for input \(shape), got \(gamma.shape)")
        }
        if let beta {
            precondition(beta.shape == [d], "\(what): beta must have shape [\(d)] for input \(shape), got \(beta.shape)")
        }
        return (count / d, d)
    }
}
