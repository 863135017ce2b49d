import NanoTensor

/// ‖X·Wᵀ − X·Ŵᵀ‖_F / ‖X·Wᵀ‖_F: the relative output error of a linear layer's approximation.
func relativeOutputError(_ x: Tensor, _ w: Tensor, _ approximation: Tensor) -> Double {
    let reference = Tensor.matmul(x, w, transposeB: true)
    let approximate = Tensor.matmul(x, approximation, transposeB: true)
    var difference: Double = 0, norm: Double = 0
    for (a, b) in zip(reference.scalars, approximate.scalars) {
        difference += Double(a - b) * Double(a - b)
        norm += Double(a) * Double(a)
    }
    return (difference / max(norm, .leastNormalMagnitude)).squareRoot()
}

/// Calibration inputs with correlated columns: X = Z·M, Z: [n, k] and M: [k, columns] Gaussian.
func correlatedInputs(rows: Int, columns: Int, rank: Int, seed: UInt64) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let z = rng.normal(shape: [rows, rank])
    let m = rng.normal(shape: [rank, columns], std: 1 / Float(rank).squareRoot())
    return Tensor.matmul(z, m)
}

/// Σ (a - b)² over elements, in Double.
func quantizationSquaredDifference(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
}
