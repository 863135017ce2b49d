import Foundation
import Testing
import NanoTensor
import TestSupport

/// Activations: fast kernels against `Reference` (Double libm), backward passes against finite
/// differences of the Double formulas, and the tape ops through `checkGradients`.
@Suite struct ActivationTests {
    static let shapes: [[Int]] = [[1], [7], [3, 17], [4, 5, 33], [2, 3, 4, 65]]
    static let seeds: [UInt64] = [1, 2]

    /// Normal deviates spread over [-8, 8] and beyond, with a few extremes mixed in.
    static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        var x = rng.normal(shape: shape, std: 4)
        let extremes: [Float] = [0, -0, 1e-30, -1e-30, 30, -30, 90, -90]
        for (i, v) in extremes.enumerated() where i < x.count { x.scalars[(i * 7919) % x.count] = v }
        return x
    }

    @Test(arguments: shapes, seeds)
    func forwardMatchesReference(shape: [Int], seed: UInt64) {
        let x = Self.input(shape, seed: seed)
        // Measured worst errors over these inputs (rtol, atol chosen just above): gelu(erf) 6.6e-7
        // absolute for x < 0, where 1 + erf(x/√2) cancels, otherwise 1.2e-7 relative; gelu(tanh)
        // 4.8e-7 absolute; silu 1.8e-7, sigmoid 1.3e-7, tanh 1.2e-7, exp 1.2e-7 relative.
        let cases: [(String, Tensor, Tensor, Float, Float)] = [
            ("relu", x.relu(), Reference.relu(x), 0, 0),
            ("gelu erf", x.gelu(), Reference.gelu(x), 3e-7, 7e-7),
            ("gelu tanh", x.gelu(approximation: .tanh), Reference.gelu(x, approximation: .tanh), 3e-7, 5e-7),
            ("silu", x.silu(), Reference.silu(x), 2.5e-7, 1e-30),
            ("tanh", x.tanh(), Reference.tanh(x), 2e-7, 1e-30),
            ("sigmoid", x.sigmoid(), Reference.sigmoid(x), 2e-7, 1e-30),
            ("exp", x.exp(), Reference.exp(x), 2e-7, 1e-30),
        ]
        for (name, fast, reference, rtol, atol) in cases {
            #expect(isClose(fast, reference, rtol: rtol, atol: atol),
                    "\(name) \(shape): excess \(closenessExcess(fast, reference, rtol: rtol, atol: atol))")
        }
        let positive = x.map { Swift.abs($0) + 1e-3 }
        #expect(isClose(positive.log(), Reference.log(positive), rtol: 3e-7, atol: 3e-7))
    }

    @Test func reluKeepsNaNAndSignOfZero() {
        let y = Tensor(shape: [4], scalars: [.nan, -0.0, -2, 3]).relu()
        #expect(y.scalars[0].isNaN && y.scalars[1] == 0 && y.scalars[2] == 0 && y.scalars[3] == 3)
    }

    /// d/dx of each activation in Double, by central differences of the Double formula.
    static let doubleFormulas: [(String, (Tape, Variable) -> Variable, (Double) -> Double)] = [
        ("gelu erf", { $0.gelu($1) }, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
        ("gelu tanh", { $0.gelu($1, approximation: .tanh) },
         { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
        ("silu", { $0.silu($1) }, { $0 / (1 + Foundation.exp(-$0)) }),
        ("tanh", { $0.tanh($1) }, { Foundation.tanh($0) }),
        ("sigmoid", { $0.sigmoid($1) }, { 1 / (1 + Foundation.exp(-$0)) }),
        ("exp", { $0.exp($1) }, { Foundation.exp($0) }),
        ("relu", { $0.relu($1) }, { Swift.max($0, 0) }),
    ]

    /// A much tighter check than finite differences in Float: the fused backward against the exact
    /// derivative (Double central differences, h = 1e-5), on a dense grid. Measured worst error
    /// relative to max(1, |f′|): gelu(tanh) 1.0e-6, silu 6.5e-7, the others ≤ 1.7e-7.
    @Test func backwardMatchesDoubleDerivative() {
        let grid = (0..<4001).map { Float($0 - 2000) / 200 + 0.0013 } // [-10, 10], never exactly 0
        let x = Tensor(shape: [grid.count], scalars: grid)
        for (name, op, f) in Self.doubleFormulas {
            let tape = Tape()
            let v = Variable(x, requiresGrad: true)
            tape.backward(from: op(tape, v))
            guard let grad = v.grad else { Issue.record("\(name): no gradient"); continue }
            var worst = 0.0
            for (i, xi) in grid.enumerated() {
                let h = 1e-5, d = Double(xi)
                let exact = (f(d + h) - f(d - h)) / (2 * h)
                worst = Swift.max(worst, Swift.abs(Double(grad.scalars[i]) - exact) / Swift.max(1, Swift.abs(exact)))
            }
            #expect(worst < 1.5e-6, "\(name): worst derivative error \(worst)")
        }
    }

    @Test(arguments: [GELUApproximation.erf, .tanh])
    func geluGradients(approximation: GELUApproximation) {
        var rng = RandomGenerator(seed: 11)
        let r = checkGradients([rng.normal(shape: [3, 5], std: 2)]) { t, v in t.gelu(v[0], approximation: approximation) }
        #expect(r.passed, "\(r)")
    }

    @Test func smoothActivationGradients() {
        var rng = RandomGenerator(seed: 12)
        let x = rng.normal(shape: [2, 3, 4], std: 2)
        let ops: [(String, (Tape, Variable) -> Variable)] = [
            ("silu", { $0.silu($1) }), ("tanh", { $0.tanh($1) }), ("sigmoid", { $0.sigmoid($1) }),
            ("exp", { $0.exp($1) }),
        ]
        for (name, op) in ops {
            let r = checkGradients([x]) { t, v in op(t, v[0]) }
            #expect(r.passed, "\(name): \(r)")
        }
        let positive = rng.uniform(shape: [2, 3, 4], low: 0.5, high: 3)
        #expect(checkGradients([positive]) { t, v in t.log(v[0]) }.passed)
    }

    @Test func reluGradient() {
        // Keep every element at least 0.05 from the kink so the finite differences are defined.
        var rng = RandomGenerator(seed: 13)
        let x = rng.normal(shape: [4, 6]).map { $0 >= 0 ? $0 + 0.05 : $0 - 0.05 }
        let r = checkGradients([x]) { t, v in t.relu(v[0]) }
        #expect(r.passed, "\(r)")
    }

    @Test func activationsComposeOnTheTape() {
        var rng = RandomGenerator(seed: 14)
        let x = rng.normal(shape: [3, 4]), w = rng.normal(shape: [4, 4])
        let r = checkGradients([x, w]) { t, v in t.sigmoid(t.gelu(t.matmul(t.tanh(t.silu(v[0])), v[1]))) }
        #expect(r.passed, "\(r)")
    }
}
