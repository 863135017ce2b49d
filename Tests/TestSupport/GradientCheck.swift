import NanoTensor

/// The outcome of comparing autodiff gradients with central finite differences.
public struct GradientCheckResult: CustomStringConvertible {
    /// For each input: the worst |analytic - numeric| / max(1, |numeric|) over checked elements.
    public var worstError: [Float]
    public var passed: Bool
    public var description: String { "GradientCheck(worst errors per input: \(worstError), passed: \(passed))" }
}

/// Checks the gradients of `f` with respect to every input against central finite differences.
///
/// The function's output is reduced to a scalar loss `sum(output ⊙ R)` with a fixed random `R`, so
/// every output element contributes with a distinct weight. Float32 differences are noisy, hence the
/// default step 1e-2 and tolerance 2e-2 relative to max(1, |numeric|). At most `maxElements` elements
/// of each input are probed (a seeded random subset), which keeps checks of larger blocks fast.
public func checkGradients(
    _ inputs: [Tensor],
    parameters: [Variable] = [],
    epsilon: Float = 1e-2,
    tolerance: Float = 2e-2,
    maxElements: Int = 64,
    seed: UInt64 = 1,
    _ f: (Tape, [Variable]) -> Variable
) -> GradientCheckResult {
    var rng = RandomGenerator(seed: seed)
    // Shape of the output, to draw the projection.
    let probeOut = f(Tape(recording: false), inputs.map { Variable($0) })
    let projection = rng.normal(shape: probeOut.shape)

    func loss(_ values: [Tensor]) -> Double {
        let out = f(Tape(recording: false), values.map { Variable($0) }).value
        var acc = 0.0
        for (x, r) in zip(out.scalars, projection.scalars) { acc += Double(x) * Double(r) }
        return acc
    }

    let tape = Tape()
    let vars = inputs.map { Variable($0, requiresGrad: true) }
    for p in parameters { p.zeroGrad() }
    let out = f(tape, vars)
    tape.backward(from: out, seed: projection)

    // Inputs are perturbed in the argument list; parameters in place (and restored).
    var worst: [Float] = []
    let slots = inputs.count + parameters.count
    for i in 0..<slots {
        let isInput = i < inputs.count
        let original = isInput ? inputs[i] : parameters[i - inputs.count].value
        let analytic = (isInput ? vars[i].grad : parameters[i - inputs.count].grad) ?? Tensor.zeros(original.shape)
        func evaluate(_ j: Int, _ delta: Float) -> Double {
            var changed = original
            changed.scalars[j] += delta
            if isInput {
                var values = inputs
                values[i] = changed
                return loss(values)
            }
            let p = parameters[i - inputs.count]
            p.value = changed
            defer { p.value = original }
            return loss(inputs)
        }
        var indices = Array(0..<original.count)
        if indices.count > maxElements { rng.shuffle(&indices); indices = Array(indices.prefix(maxElements)) }
        var w: Float = 0
        for j in indices {
            let numeric = Float((evaluate(j, epsilon) - evaluate(j, -epsilon)) / Double(2 * epsilon))
            let err = abs(analytic.scalars[j] - numeric) / max(1, abs(numeric))
            w = max(w, err.isNaN ? .infinity : err)
        }
        worst.append(w)
    }
    return GradientCheckResult(worstError: worst, passed: worst.allSatisfy { $0 <= tolerance })
}
