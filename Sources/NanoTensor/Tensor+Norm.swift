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

    /// (self + residual).layerNorm(gamma:beta:epsilon:), bit for bit, in one kernel: the sum is
    /// written once into the output and normalised in place (the runtime's post-norm residuals).
    public func addingLayerNorm(_ residual: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> Tensor {
        precondition(residual.shape == shape, "addingLayerNorm: residual shape \(residual.shape) differs from \(shape)")
        return residual.scalars.withUnsafeBufferPointer { r in
            layerNormWithStatistics(gamma: gamma, beta: beta, epsilon: epsilon, residual: r.baseAddress, statistics: false).output
        }
    }

    /// The layer norm and, per row, the mean and 1/√(var + ε) that the backward pass reuses.
    func layerNormWithStatistics(gamma: Tensor?, beta: Tensor?, epsilon: Float)
        -> (output: Tensor, mean: [Float], rstd: [Float]) {
        layerNormWithStatistics(gamma: gamma, beta: beta, epsilon: epsilon, residual: nil, statistics: true)
    }

    /// Rows are independent, so they are split over `Parallel.workers` (the same bits for any
    /// split) and each range runs `NormKernels.layerNorm` on the process's `KernelSet`.
    func layerNormWithStatistics(gamma: Tensor?, beta: Tensor?, epsilon: Float, residual: UnsafePointer<Float>?, statistics: Bool)
        -> (output: Tensor, mean: [Float], rstd: [Float]) {
        let (rows, d) = normLayout("layerNorm", gamma: gamma, beta: beta)
        var mean = [Float](repeating: 0, count: statistics ? rows : 0), rstd = [Float](repeating: 0, count: statistics ? rows : 0)
        let g = gamma?.scalars ?? [Float](repeating: 1, count: d)
        let b = beta?.scalars ?? [Float](repeating: 0, count: d)
        let kernels = KernelSet.current
        let out = [Float](unsafeUninitializedCapacity: rows * d) { dst, initialized in
            scalars.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in b.withUnsafeBufferPointer { bb in
                    mean.withUnsafeMutableBufferPointer { mb in rstd.withUnsafeMutableBufferPointer { sb in
                        guard rows * d > 0, let x0 = xb.baseAddress, let y0 = dst.baseAddress,
                              let pg = gb.baseAddress, let pb = bb.baseAddress else { return }
                        // An empty array's base address may still be non-nil: no statistics means nil pointers.
                        let (pm, ps) = statistics ? (mb.baseAddress, sb.baseAddress) : (nil, nil)
                        Parallel.forRanges(rows, grain: NormKernels.rowGrain(d)) { range in
                            NormKernels.layerNorm(range, x: x0, residual: residual, d: d, gamma: pg, beta: pb, epsilon: epsilon,
                                                  y: y0, mean: pm, rstd: ps, kernels: kernels)
                        }
                    }}
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
        let kernels = KernelSet.current
        let out = [Float](unsafeUninitializedCapacity: rows * d) { dst, initialized in
            scalars.withUnsafeBufferPointer { xb in
                g.withUnsafeBufferPointer { gb in rstd.withUnsafeMutableBufferPointer { sb in
                    guard rows * d > 0, let x0 = xb.baseAddress, let y0 = dst.baseAddress, let pg = gb.baseAddress,
                          let ps = sb.baseAddress else { return }
                    Parallel.forRanges(rows, grain: NormKernels.rowGrain(d)) { range in
                        NormKernels.rmsNorm(range, x: x0, d: d, gamma: pg, epsilon: epsilon, y: y0, rstd: ps, kernels: kernels)
                    }
                }}
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
