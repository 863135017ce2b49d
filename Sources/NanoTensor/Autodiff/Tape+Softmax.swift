/// Differentiable softmax and log-softmax. Both backward passes reuse the forward output and
/// run as one fused pass per slice (see `Tensor.softmax(axis:)` for the -∞ and masking rules).
extension Tape {
    /// eˣ / Σ eˣ along `axis`; dx = y ⊙ (g - Σ g⊙y).
    public func softmax(_ x: Variable, axis: Int = -1) -> Variable {
        let y = x.value.softmax(axis: axis)
        return record(y, inputs: [x]) { g, _ in [y.softmaxBackward(g, axis: axis)] }
    }

    /// x - log Σ eˣ along `axis`; dx = g - eʸ ⊙ Σ g.
    public func logSoftmax(_ x: Variable, axis: Int = -1) -> Variable {
        let y = x.value.logSoftmax(axis: axis)
        return record(y, inputs: [x]) { g, _ in [y.logSoftmaxBackward(g, axis: axis)] }
    }
}
