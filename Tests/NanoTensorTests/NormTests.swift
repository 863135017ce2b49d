import Testing
import NanoTensor
import TestSupport

/// Layer norm and RMS norm: fast kernels against `Reference` (Double statistics), gradients by
/// finite differences, and the fused backward against the same norm composed from primitive
/// tape ops, with and without γ/β.
@Suite struct NormTests {
    static let shapes: [[Int]] = [[1], [7], [3, 17], [4, 5, 64], [2, 3, 257]]
    static let seeds: [UInt64] = [1, 2]

    static func parameters(_ d: Int, seed: UInt64) -> (gamma: Tensor, beta: Tensor) {
        var rng = RandomGenerator(seed: seed &+ 100)
        return (rng.normal(shape: [d], mean: 1, std: 0.5), rng.normal(shape: [d], std: 0.5))
    }

    @Test(arguments: shapes, seeds)
    func matchesReference(shape: [Int], seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        // A large common offset checks that the variance is two-pass, not E[x²] - E[x]².
        let x = rng.normal(shape: shape, mean: seed == 2 ? 300 : 0, std: 2)
        let (gamma, beta) = Self.parameters(shape[shape.count - 1], seed: seed)
        // Measured: layerNorm 9.5e-7 absolute with the offset (4.8e-7 without); rmsNorm 4.8e-7.
        for (g, b) in [(gamma, beta), (nil, nil), (gamma, nil), (nil, beta)] as [(Tensor?, Tensor?)] {
            let y = x.layerNorm(gamma: g, beta: b), ref = Reference.layerNorm(x, gamma: g, beta: b)
            #expect(isClose(y, ref, rtol: 5e-7, atol: 1e-6), "layerNorm \(shape): \(closenessExcess(y, ref, rtol: 5e-7, atol: 1e-6))")
        }
        for g in [gamma, nil] as [Tensor?] {
            let y = x.rmsNorm(gamma: g), ref = Reference.rmsNorm(x, gamma: g)
            #expect(isClose(y, ref, rtol: 5e-7, atol: 1e-7), "rmsNorm \(shape): \(closenessExcess(y, ref, rtol: 5e-7, atol: 1e-7))")
        }
    }

    @Test func constantRowsNormaliseToBeta() {
        let x = Tensor(repeating: 7, shape: [2, 5])
        let beta = Tensor(shape: [5], scalars: [1, 2, 3, 4, 5])
        let y = x.layerNorm(gamma: Tensor.ones([5]), beta: beta)
        #expect(y == Tensor(shape: [2, 5], scalars: beta.scalars + beta.scalars))
        #expect(Tensor.zeros([3, 4]).rmsNorm(gamma: nil) == Tensor.zeros([3, 4]))
    }

    @Test(arguments: [true, false], [true, false])
    func layerNormGradients(withGamma: Bool, withBeta: Bool) {
        var rng = RandomGenerator(seed: 31)
        let x = rng.normal(shape: [2, 3, 6], std: 2)
        let (gamma, beta) = Self.parameters(6, seed: 31)
        let inputs = [x] + (withGamma ? [gamma] : []) + (withBeta ? [beta] : [])
        let r = checkGradients(inputs) { t, v in
            t.layerNorm(v[0], gamma: withGamma ? v[1] : nil, beta: withBeta ? v[withGamma ? 2 : 1] : nil)
        }
        #expect(r.passed, "gamma \(withGamma) beta \(withBeta): \(r)")
    }

    @Test(arguments: [true, false])
    func rmsNormGradients(withGamma: Bool) {
        var rng = RandomGenerator(seed: 32)
        let x = rng.normal(shape: [2, 3, 6], std: 2)
        let inputs = [x] + (withGamma ? [Self.parameters(6, seed: 32).gamma] : [])
        let r = checkGradients(inputs) { t, v in t.rmsNorm(v[0], gamma: withGamma ? v[1] : nil) }
        #expect(r.passed, "gamma \(withGamma): \(r)")
    }

    /// Gradients of every input after a backward through the fused op and through `composed`.
    static func gradients(_ inputs: [Tensor], seed: Tensor, _ f: (Tape, [Variable]) -> Variable) -> [Tensor] {
        let tape = Tape(), vars = inputs.map { Variable($0, requiresGrad: true) }
        tape.backward(from: f(tape, vars), seed: seed)
        return vars.map { $0.grad ?? Tensor.zeros($0.shape) }
    }

    /// The fused backward against layer norm composed from mean, sub, mul, sqrt, div; γ and β
    /// gradients sum over both leading axes. Measured worst difference: 1.9e-6 on gradients up to 12.
    @Test(arguments: [7, 64, 131])
    func fusedLayerNormBackwardMatchesComposition(d: Int) {
        var rng = RandomGenerator(seed: 33)
        let x = rng.normal(shape: [3, 5, d], mean: 1, std: 2), seed = rng.normal(shape: [3, 5, d])
        let (gamma, beta) = Self.parameters(d, seed: 33)
        let fused = Self.gradients([x, gamma, beta], seed: seed) { t, v in t.layerNorm(v[0], gamma: v[1], beta: v[2]) }
        let composed = Self.gradients([x, gamma, beta], seed: seed) { t, v in
            let centred = t.sub(v[0], t.mean(v[0], axes: [-1], keepDims: true))
            let variance = t.mean(t.square(centred), axes: [-1], keepDims: true)
            let xhat = t.div(centred, t.sqrt(t.addScalar(variance, 1e-5)))
            return t.add(t.mul(xhat, v[1]), v[2])
        }
        for (name, a, b) in zip3(["x", "gamma", "beta"], fused, composed) {
            #expect(isClose(a, b, rtol: 2e-6, atol: 2e-6), "d\(d) \(name): \(closenessExcess(a, b, rtol: 2e-6, atol: 2e-6))")
        }
    }

    /// The same for RMS norm. Measured worst difference: 1.9e-6 on gradients up to 10.
    @Test(arguments: [7, 64, 131])
    func fusedRMSNormBackwardMatchesComposition(d: Int) {
        var rng = RandomGenerator(seed: 34)
        let x = rng.normal(shape: [3, 5, d], std: 2), seed = rng.normal(shape: [3, 5, d])
        let gamma = Self.parameters(d, seed: 34).gamma
        let fused = Self.gradients([x, gamma], seed: seed) { t, v in t.rmsNorm(v[0], gamma: v[1]) }
        let composed = Self.gradients([x, gamma], seed: seed) { t, v in
            let rms = t.sqrt(t.addScalar(t.mean(t.square(v[0]), axes: [-1], keepDims: true), 1e-6))
            return t.mul(t.div(v[0], rms), v[1])
        }
        for (name, a, b) in zip3(["x", "gamma"], fused, composed) {
            #expect(isClose(a, b, rtol: 2e-6, atol: 2e-6), "d\(d) \(name): \(closenessExcess(a, b, rtol: 2e-6, atol: 2e-6))")
        }
    }

    @Test func normsComposeOnTheTape() {
        var rng = RandomGenerator(seed: 35)
        let x = rng.normal(shape: [4, 8]), w = rng.normal(shape: [8, 8]), gamma = Self.parameters(8, seed: 35).gamma
        let r = checkGradients([x, w, gamma]) { t, v in
            t.rmsNorm(t.matmul(t.layerNorm(v[0], gamma: v[2], beta: nil), v[1]), gamma: v[2])
        }
        #expect(r.passed, "\(r)")
    }
}

private func zip3<A, B, C>(_ a: [A], _ b: [B], _ c: [C]) -> [(A, B, C)] {
    (0..<min(a.count, b.count, c.count)).map { (a[$0], b[$0], c[$0]) }
}
