/// Differentiable normalisations over the last axis, with fused analytic backward passes.
///
/// The forward keeps the per-row statistics (mean, 1/std), so the backward needs no second
/// reduction over x beyond the one pass that forms the two row sums of the analytic gradient.
/// Gradients of γ and β are summed over every leading axis.
extension Tape {
    /// Layer norm of `x` over its last axis, with optional γ and β of shape [d].
    public func layerNorm(_ x: Variable, gamma: Variable?, beta: Variable?, epsilon: Float = 1e-5) -> Variable {
        let (y, mean, rstd) = x.value.layerNormWithStatistics(gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
        var inputs = [x]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        let gammaIndex = gamma == nil ? nil : 1
        let betaIndex = beta == nil ? nil : (gamma == nil ? 1 : 2)
        return record(y, inputs: inputs) { g, needs in
            let grads = NormBackward.layerNorm(
                x: x.value, grad: g, gamma: gamma?.value, mean: mean, rstd: rstd,
                needsX: needs[0], needsGamma: gammaIndex.map { needs[$0] } ?? false,
                needsBeta: betaIndex.map { needs[$0] } ?? false)
            var result: [Tensor?] = [grads.dx]
            if gammaIndex != nil { result.append(grads.dgamma) }
            if betaIndex != nil { result.append(grads.dbeta) }
            return result
        }
    }

    /// RMS norm of `x` over its last axis, with an optional γ of shape [d].
    public func rmsNorm(_ x: Variable, gamma: Variable?, epsilon: Float = 1e-6) -> Variable {
        let (y, rstd) = x.value.rmsNormWithStatistics(gamma: gamma?.value, epsilon: epsilon)
        let inputs = gamma.map { [x, $0] } ?? [x]
        return record(y, inputs: inputs) { g, needs in
            let grads = NormBackward.rmsNorm(x: x.value, grad: g, gamma: gamma?.value, rstd: rstd,
                                             needsX: needs[0], needsGamma: needs.count > 1 && needs[1])
            return gamma == nil ? [grads.dx] : [grads.dx, grads.dgamma]
        }
    }
}
