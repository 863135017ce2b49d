import Foundation
import Testing
@testable import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// LSQ's learned-scale fake quantization: its gradients against finite differences, and the
/// packed weight equal to what training saw.
@Suite struct LSQTests {
    /// A weight whose elements sit at chosen places of the grid of `lsq`'s scales: inside it at a
    /// rounding offset of 0.1…0.4 from a code (never within 0.1 of a rounding boundary k ± 0.5 or
    /// of a clip bound), and outside it by 0.2…1.5 steps, including the band (qmax, qmax + 0.5)
    /// that rounds to qmax but counts as clipped. A step of 1e-3 in a weight or scale moves
    /// x / s by less than 0.04, so no probe crosses a boundary.
    static func weight(_ lsq: LearnedStepSize, rows: Int, columns: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let lo = Float(QuantizationNumerics.qmin(bits: lsq.scheme.bits, symmetric: lsq.scheme.symmetric))
        let hi = Float(QuantizationNumerics.qmax(bits: lsq.scheme.bits, symmetric: lsq.scheme.symmetric))
        var w = Tensor.zeros([rows, columns])
        for i in 0..<(rows * columns) {
            let slice = lsq.scheme.scaleIndex(row: i / columns, column: i % columns, columns: columns)
            let (s, z) = (lsq.scales.value.scalars[slice], Float(lsq.zeroPoints?[slice] ?? 0))
            let u = rng.uniform(shape: [3], low: 0, high: 1).scalars
            let code: Float
            switch i % 5 {
            case 0: code = hi + 0.2 + 1.3 * u[0]                       // clipped above (some in the rounding band)
            case 1: code = lo - 0.2 - 1.3 * u[0]                       // clipped below
            default:                                                   // inside: k ± (0.1…0.4), ≥ 0.1 from the bounds
                let k = (lo + (hi - lo + 1) * u[0]).rounded(.down)
                var f = (0.1 + 0.3 * u[1]) * (u[2] < 0.5 ? -1 : 1)
                if k + f < lo + 0.1 || k + f > hi - 0.1 { f = -f }
                code = Swift.min(Swift.max(k + f, lo + 0.1), hi - 0.1)
            }
            w.scalars[i] = (code - z) * s
        }
        return w
    }

    /// LSQ's gradients are the exact derivatives of the fake quantization with each element's
    /// rounding offset δ = round(v) - v frozen at the evaluation point (the straight-through
    /// estimator of the paper) and the scale entering as s₀ + g·(s - s₀) (its gradient scale).
    /// The test evaluates that surrogate with plain loops for the finite differences and LSQ's
    /// backward for the analytic side; at the evaluation point both equal `fakeQuantize`.
    @Test(arguments: [QuantizationScheme(bits: 4, granularity: .group(4)), QuantizationScheme(bits: 2, symmetric: false),
                      QuantizationScheme(bits: 3, granularity: .tensor)])
    func gradientsMatchFiniteDifferencesOfTheStraightThroughSurrogate(_ scheme: QuantizationScheme) throws {
        let (rows, columns) = (3, 8)
        var rng = RandomGenerator(seed: 11)
        let lsq = try LearnedStepSize(initialWeight: rng.normal(shape: [rows, columns]), scheme: scheme)
        lsq.scales.value = rng.uniform(shape: lsq.scales.shape, low: 0.3, high: 0.6)
        let w0 = Self.weight(lsq, rows: rows, columns: columns, seed: 5), s0 = lsq.scales.value
        let lo = QuantizationNumerics.qmin(bits: scheme.bits, symmetric: scheme.symmetric)
        let hi = QuantizationNumerics.qmax(bits: scheme.bits, symmetric: scheme.symmetric)
        let perScale = scheme.granularity == .tensor ? rows * columns : scheme.groupWidth(columns: columns)

        func surrogate(_ w: Tensor, _ s: Tensor) -> Tensor {
            var out = w
            for i in 0..<w.count {
                let slice = scheme.scaleIndex(row: i / columns, column: i % columns, columns: columns)
                let z = lsq.zeroPoints?[slice] ?? 0
                let g = 1 / (Float(perScale) * Float(hi - z)).squareRoot()
                let scale = s0.scalars[slice] + g * (s.scalars[slice] - s0.scalars[slice])
                let v0 = w0.scalars[i] / s0.scalars[slice], v = w.scalars[i] / scale
                if v + Float(z) < Float(lo) { out.scalars[i] = Float(lo - z) * scale }
                else if v + Float(z) > Float(hi) { out.scalars[i] = Float(hi - z) * scale }
                else { out.scalars[i] = (v + (v0.rounded(.toNearestOrEven) - v0)) * scale }
            }
            return out
        }
        let forward = QuantizationNumerics.lsqFakeQuantize(w0, scales: s0, zeroPoints: lsq.zeroPoints, scheme: scheme)
        #expect(maxAbsDifference(forward, surrogate(w0, s0)) < 1e-6)
        let packed = try lsq.quantized(w0)
        #expect(packed.dequantized().scalars == forward.scalars, "the packed weight is what training saw")
        #expect(packed.scales == s0.scalars)

        lsq.scales.value = s0
        let check = checkGradients([w0], parameters: [lsq.scales], epsilon: 1e-3, tolerance: 5e-3) { tape, inputs in
            tape.isRecording ? lsq(inputs[0], tape: tape) : Variable(surrogate(inputs[0].value, lsq.scales.value))
        }
        #expect(check.passed, "\(scheme): \(check)")
    }
}
