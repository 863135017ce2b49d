/// Differentiable inverted dropout.
extension Tape {
    /// Zeroes each entry of `x` with `probability` and scales the rest by 1 / (1 − p)
    /// (`Masks.dropoutMask`); the gradient passes through the same mask.
    ///
    /// The identity — returning `x` itself and drawing nothing from `rng` — when `probability`
    /// is 0 or this tape is not recording (inference). `probability` must lie in [0, 1).
    public func dropout(_ x: Variable, probability: Float, rng: inout RandomGenerator) -> Variable {
        precondition(probability >= 0 && probability < 1, "dropout: probability \(probability) is outside [0, 1)")
        if probability == 0 || !isRecording { return x }
        let mask = Masks.dropoutMask(shape: x.shape, probability: probability, rng: &rng)
        return record(x.value * mask, inputs: [x]) { g, _ in [g * mask] }
    }
}
