/// Fused analytic backward passes of the norms over the last axis.
///
/// Each row takes one reduction pass (the row sums of the analytic gradient) and one update pass
/// that writes dx and accumulates dγ/dβ, both over an L1-resident row, instead of a graph of
/// small tensor ops that would each stream the whole tensor through memory.
enum NormBackward {
    /// Gradients of y = x̂·γ + β, x̂ = (x - μ)·s, s = 1/√(var + ε), for x: [rows, d].
    ///
    /// dx = s·(ĝ - mean(ĝ) - x̂·mean(ĝ ⊙ x̂)) with ĝ = g ⊙ γ; dγ = Σ_rows g ⊙ x̂; dβ = Σ_rows g.
    static func layerNorm(x: Tensor, grad g: Tensor, gamma: Tensor?, mean: [Float], rstd: [Float],
                          needsX: Bool, needsGamma: Bool, needsBeta: Bool)
        -> (dx: Tensor?, dgamma: Tensor?, dbeta: Tensor?) {
        let (rows, d) = x.normLayout("layerNorm backward", gamma: gamma, beta: nil)
        precondition(g.shape == x.shape, "layerNorm backward: gradient shape \(g.shape) differs from \(x.shape)")
        let gammaScalars = gamma?.scalars ?? [Float](repeating: 1, count: d)
        let dgamma = Accumulator(count: needsGamma ? d : 0), dbeta = Accumulator(count: needsBeta ? d : 0)
        let invD = 1 / Float(d)
        let dx = [Float](unsafeUninitializedCapacity: needsX ? rows * d : 0) { dxBuffer, initialized in
            x.scalars.withUnsafeBufferPointer { xb in
                g.scalars.withUnsafeBufferPointer { gb in
                    gammaScalars.withUnsafeBufferPointer { gmb in
                        guard let x0 = xb.baseAddress, let g0 = gb.baseAddress, let gm = gmb.baseAddress else { return }
                        for r in 0..<rows {
                            let x = x0 + r * d, g = g0 + r * d, mu = mean[r], s = rstd[r]
                            if needsX, let dx0 = dxBuffer.baseAddress {
                                let (sumG, sumGX) = layerNormSums(x: x, g: g, gamma: gm, mean: mu, rstd: s, count: d)
                                let a = sumG * invD, b = sumGX * invD
                                let dx = dx0 + r * d
                                for j in 0..<d { dx[j] = s * (g[j] * gm[j] - a - (x[j] - mu) * s * b) }
                            }
                            if needsGamma {
                                let dg = dgamma.base
                                for j in 0..<d { dg[j] = dg[j].addingProduct(g[j], (x[j] - mu) * s) }
                            }
                            if needsBeta {
                                let db = dbeta.base
                                for j in 0..<d { db[j] += g[j] }
                            }
                        }
                    }
                }
            }
            initialized = needsX ? rows * d : 0
        }
        return (needsX ? Tensor(shape: x.shape, scalars: dx) : nil,
                needsGamma ? dgamma.tensor : nil,
                needsBeta ? dbeta.tensor : nil)
    }

    /// Gradients of y = x·s·γ, s = 1/√(mean(x²) + ε), for x: [rows, d].
    ///
    /// dx = s·ĝ - x·s³·mean(ĝ ⊙ x) with ĝ = g ⊙ γ; dγ = Σ_rows g ⊙ x·s.
    static func rmsNorm(x: Tensor, grad g: Tensor, gamma: Tensor?, rstd: [Float],
                        needsX: Bool, needsGamma: Bool) -> (dx: Tensor?, dgamma: Tensor?) {
        let (rows, d) = x.normLayout("rmsNorm backward", gamma: gamma, beta: nil)
        precondition(g.shape == x.shape, "rmsNorm backward: gradient shape \(g.shape) differs from \(x.shape)")
        let gammaScalars = gamma?.scalars ?? [Float](repeating: 1, count: d)
        let dgamma = Accumulator(count: needsGamma ? d : 0)
        let invD = 1 / Float(d)
        let dx = [Float](unsafeUninitializedCapacity: needsX ? rows * d : 0) { dxBuffer, initialized in
            x.scalars.withUnsafeBufferPointer { xb in
                g.scalars.withUnsafeBufferPointer { gb in
                    gammaScalars.withUnsafeBufferPointer { gmb in
                        guard let x0 = xb.baseAddress, let g0 = gb.baseAddress, let gm = gmb.baseAddress else { return }
                        for r in 0..<rows {
                            let x = x0 + r * d, g = g0 + r * d, s = rstd[r]
                            if needsX, let dx0 = dxBuffer.baseAddress {
                                let c = rmsNormSum(x: x, g: g, gamma: gm, count: d) * invD * s * s * s
                                let dx = dx0 + r * d
                                for j in 0..<d { dx[j] = (s * g[j] * gm[j]).addingProduct(-x[j], c) }
                            }
                            if needsGamma {
                                let dg = dgamma.base
                                for j in 0..<d { dg[j] = dg[j].addingProduct(g[j], x[j] * s) }
                            }
                        }
                    }
                }
            }
            initialized = needsX ? rows * d : 0
        }
        return (needsX ? Tensor(shape: x.shape, scalars: dx) : nil, needsGamma ? dgamma.tensor : nil)
    }

    /// (Σ g⊙γ, Σ g⊙γ⊙x̂) over one row, x̂ = (x - μ)·s.
    @inline(__always)
    static func layerNormSums(x: UnsafePointer<Float>, g: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                              mean mu: Float, rstd s: Float, count d: Int) -> (Float, Float) {
        var a = FastMath.Vector(), b = FastMath.Vector()
        let vmu = FastMath.Vector(repeating: mu), vs = FastMath.Vector(repeating: s)
        var j = 0
        while j + 8 <= d {
            let gh = FastMath.load(g, j) * FastMath.load(gamma, j)
            a = a + gh
            b = b.addingProduct(gh, (FastMath.load(x, j) - vmu) * vs)
            j += 8
        }
        var sa = a.sum(), sb = b.sum()
        while j < d {
            let gh = g[j] * gamma[j]
            sa += gh
            sb = sb.addingProduct(gh, (x[j] - mu) * s)
            j += 1
        }
        return (sa, sb)
    }

    /// Σ g⊙γ⊙x over one row.
    @inline(__always)
    static func rmsNormSum(x: UnsafePointer<Float>, g: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                           count d: Int) -> Float {
        var a = FastMath.Vector()
        var j = 0
        while j + 8 <= d {
            a = a.addingProduct(FastMath.load(g, j) * FastMath.load(gamma, j), FastMath.load(x, j))
            j += 8
        }
        var sa = a.sum()
        while j < d { sa = sa.addingProduct(g[j] * gamma[j], x[j]); j += 1 }
        return sa
    }

    /// A zeroed buffer for dγ or dβ, summed over rows and handed out as a [d] tensor.
    final class Accumulator {
        let base: UnsafeMutablePointer<Float>
        let count: Int

        init(count: Int) {
            self.count = count
            base = .allocate(capacity: Swift.max(count, 1))
            base.initialize(repeating: 0, count: Swift.max(count, 1))
        }

        deinit { base.deallocate() }

        var tensor: Tensor { Tensor(shape: [count], scalars: Array(UnsafeBufferPointer(start: base, count: count))) }
    }
}
