/// Differentiable matrix products.
extension Tape {
    /// `op(a) · op(b)` with the same broadcasting as `Tensor.matmul`.
    public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
        let out = Tensor.matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB)
        return record(out, inputs: [a, b]) { g, needs in
            // dA = g·op(B)ᵀ (transposed back if A was), dB likewise; broadcast batch axes sum away.
            var ga: Tensor? = nil, gb: Tensor? = nil
            if needs[0] {
                ga = transposeA
                    ? Tensor.matmul(b.value, g, transposeA: transposeB, transposeB: true)
                    : Tensor.matmul(g, b.value, transposeA: false, transposeB: !transposeB)
                ga = ga!.sumToShape(a.shape)
            }
            if needs[1] {
                gb = transposeB
                    ? Tensor.matmul(g, a.value, transposeA: true, transposeB: transposeA)
                    : Tensor.matmul(a.value, g, transposeA: !transposeA, transposeB: false)
                gb = gb!.sumToShape(b.shape)
            }
            return [ga, gb]
        }
    }

    /// `x · wᵀ + bias` for x: [..., in], w: [out, in], bias: [out] — the PyTorch `Linear` convention.
    public func linear(_ x: Variable, weight w: Variable, bias: Variable? = nil) -> Variable {
        // Flatten leading axes so forward and both backward products are single GEMMs.
        let inFeatures = x.shape[x.rank - 1]
        let flat = x.rank == 2 ? x : reshape(x, [x.value.count / inFeatures, inFeatures])
        var y = matmul(flat, w, transposeB: true)
        if let bias { y = add(y, bias) }
        return x.rank == 2 ? y : reshape(y, Array(x.shape.dropLast()) + [w.shape[0]])
    }
}
