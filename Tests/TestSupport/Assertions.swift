import NanoTensor

/// The largest |a - b| - (atol + rtol·|b|) over elements, ≤ 0 when `a` is close to `b`.
/// Shapes are compared first; a shape mismatch is reported as `.infinity`.
public func closenessExcess(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var worst: Float = -.infinity
    for (x, y) in zip(a.scalars, b.scalars) {
        if x.isNaN || y.isNaN { return .infinity }
        worst = max(worst, abs(x - y) - (atol + rtol * abs(y)))
    }
    return a.count == 0 ? 0 : worst
}

/// True when `a` and `b` have the same shape and every element satisfies |a-b| ≤ atol + rtol·|b|.
public func isClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    closenessExcess(a, b, rtol: rtol, atol: atol) <= 0
}

/// The largest absolute elementwise difference (shapes must match).
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxAbsDifference: shapes \(a.shape) and \(b.shape) differ")
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}
