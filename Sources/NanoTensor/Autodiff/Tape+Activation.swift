/// Differentiable activations. Each backward is one fused elementwise pass.
extension Tape {
    /// max(x, 0); the gradient is 0 at x ≤ 0 (PyTorch's convention at 0).
    public func relu(_ x: Variable) -> Variable {
        record(x.value.relu(), inputs: [x]) { g, _ in [x.value.reluBackward(g)] }
    }

    /// x·Φ(x), with Φ evaluated as `approximation` says; the gradient is that of the same formula.
    public func gelu(_ x: Variable, approximation: GELUApproximation = .erf) -> Variable {
        record(x.value.gelu(approximation: approximation), inputs: [x]) { g, _ in
            [x.value.geluBackward(g, approximation: approximation)]
        }
    }

    /// x·σ(x).
    public func silu(_ x: Variable) -> Variable {
        record(x.value.silu(), inputs: [x]) { g, _ in [x.value.siluBackward(g)] }
    }

    /// tanh(x); the backward reuses the output: 1 - y².
    public func tanh(_ x: Variable) -> Variable {
        let y = x.value.tanh()
        return record(y, inputs: [x]) { g, _ in [y.tanhBackward(g)] }
    }

    /// σ(x); the backward reuses the output: y(1 - y).
    public func sigmoid(_ x: Variable) -> Variable {
        let y = x.value.sigmoid()
        return record(y, inputs: [x]) { g, _ in [y.sigmoidBackward(g)] }
    }
}
