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
    /// One fused op: leading axes are flattened so the forward and both weight products are single
    /// GEMMs, and the bias is accumulated inside the forward GEMM.
    public func linear(_ x: Variable, weight w: Variable, bias: Variable? = nil) -> Variable {
        let inFeatures = x.shape[x.rank - 1], outFeatures = w.shape[0]
        let rows = x.value.count / Swift.max(inFeatures, 1)
        let flat = x.value.reshaped([rows, inFeatures])
        let y = Tensor.linear(flat, weight: w.value, bias: bias?.value)
        let outShape = Array(x.shape.dropLast()) + [outFeatures]
        let inputs = bias.map { [x, w, $0] } ?? [x, w]
        return record(y.reshaped(outShape), inputs: inputs) { g, needs in
            let g2 = g.reshaped([rows, outFeatures])
            var grads: [Tensor?] = [
                needs[0] ? Tensor.matmul(g2, w.value).reshaped(x.shape) : nil,            // dX = G·W
                needs[1] ? Tensor.matmul(g2, flat, transposeA: true) : nil,                // dW = Gᵀ·X
            ]
            if bias != nil { grads.append(needs[2] ? g2.sum(axes: [0]) : nil) }            // db = Σ rows of G
            return grads
        }
    }
}
