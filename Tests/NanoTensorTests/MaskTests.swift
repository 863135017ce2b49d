import Foundation
import Testing
import NanoTensor
import TestSupport

@Suite struct MaskTests {
    let masked = Masks.maskedValue

    @Test func causalMaskIsLowerTriangular() {
        let m = Masks.causal(4)
        #expect(m.shape == [4, 4])
        for q in 0..<4 {
            for k in 0..<4 { #expect(m[q, k] == (k <= q ? 0 : masked), "query \(q) key \(k)") }
        }
        #expect(Masks.causal(0).shape == [0, 0])
        #expect(Masks.causal(1) == Tensor.zeros([1, 1]))
    }

    @Test func paddingFromLengths() {
        let m = Masks.padding(lengths: [3, 0, 5], maxLength: 5)
        #expect(m.shape == [3, 1, 1, 5])
        #expect(m.reshaped([3, 5]).scalars == [0, 0, 0, masked, masked,
                                                masked, masked, masked, masked, masked,
                                                0, 0, 0, 0, 0])
    }

    @Test func paddingFromAttentionMaskMatchesLengths() {
        let attention = Tensor(shape: [2, 4], scalars: [1, 1, 0, 0, 1, 1, 1, 1])
        let m = Masks.padding(attentionMask: attention)
        #expect(m == Masks.padding(lengths: [2, 4], maxLength: 4))
        // A hole in the middle is masked too.
        let holes = Masks.padding(attentionMask: Tensor(shape: [1, 3], scalars: [1, 0, 1]))
        #expect(holes.scalars == [0, masked, 0])
    }

    /// Softmax over scores + mask: masked keys get exactly zero weight, and a fully masked row
    /// stays finite (uniform) instead of becoming NaN, which is why the mask is not -inf.
    @Test func maskedSoftmaxStaysFinite() {
        func softmax(_ row: [Float]) -> [Float] {
            let top = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - top) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        let scores: [Float] = [2.5, -1, 30, 0.5]
        let partly = softmax(zip(scores, Masks.causal(4).scalars[4..<8]).map { $0 + $1 })
        #expect(partly[2] == 0 && partly[3] == 0)
        #expect(abs(partly[0] + partly[1] - 1) < 1e-6)
        let fully = softmax(scores.map { $0 + masked })
        #expect(fully.allSatisfy { $0.isFinite })
        #expect(abs(fully.reduce(0, +) - 1) < 1e-5)
    }

    @Test(arguments: [Float(0), 0.1, 0.5, 0.9])
    func dropoutMaskIsInvertedAndHasTheRightRate(probability p: Float) {
        var rng = RandomGenerator(seed: 30)
        let n = 40_000
        let m = Masks.dropoutMask(shape: [200, 200], probability: p, rng: &rng)
        let keep = 1 / (1 - p)
        #expect(m.scalars.allSatisfy { $0 == 0 || $0 == keep })
        let dropped = Float(m.scalars.filter { $0 == 0 }.count) / Float(n)
        // Binomial standard deviation is at most 0.0025 here; allow 5 sigma.
        #expect(abs(dropped - p) < 0.0125, "dropped fraction \(dropped) for p = \(p)")
        #expect(abs(m.mean().scalar - 1) < 0.0125 * keep, "mean \(m.mean().scalar)")
        // Deterministic for a seed.
        var again = RandomGenerator(seed: 30)
        #expect(Masks.dropoutMask(shape: [200, 200], probability: p, rng: &again) == m)
    }

    @Test func invalidArgumentsStopWithAPreconditionFailure() async {
        await #expect(processExitsWith: .failure) { _ = Masks.padding(lengths: [2, 6], maxLength: 5) }
        await #expect(processExitsWith: .failure) { _ = Masks.padding(attentionMask: Tensor(shape: [1, 2], scalars: [1, 0.5])) }
        await #expect(processExitsWith: .failure) {
            var rng = RandomGenerator(seed: 1)
            _ = Masks.dropoutMask(shape: [2], probability: 1, rng: &rng)
        }
    }

    // MARK: Tape dropout

    @Test func dropoutIsTheIdentityAtInferenceOrZeroProbability() {
        let x = Variable(Tensor.ones([3, 4]), requiresGrad: true)
        var rng = RandomGenerator(seed: 31)
        #expect(Tape(recording: false).dropout(x, probability: 0.5, rng: &rng) === x)
        #expect(Tape().dropout(x, probability: 0, rng: &rng) === x)
        // Neither call drew from the generator.
        var fresh = RandomGenerator(seed: 31)
        #expect(rng.next() == fresh.next())
    }

    @Test func dropoutAppliesOneMaskForwardAndBackward() {
        var rng = RandomGenerator(seed: 32)
        let x = Variable(rng.normal(shape: [8, 16]), requiresGrad: true)
        var dropRng = RandomGenerator(seed: 33)
        let tape = Tape()
        let y = tape.dropout(x, probability: 0.25, rng: &dropRng)
        var maskRng = RandomGenerator(seed: 33)
        let mask = Masks.dropoutMask(shape: [8, 16], probability: 0.25, rng: &maskRng)
        #expect(y.value == x.value * mask)
        let seed = rng.normal(shape: [8, 16])
        tape.backward(from: y, seed: seed)
        #expect(x.grad == seed * mask)
    }

    /// `checkGradients` probes with non-recording (inference) tapes, where dropout is the identity
    /// by design; so the finite differences here run on recording tapes, each re-seeded so that
    /// every evaluation draws the same mask.
    @Test func dropoutGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 34)
        let x0 = rng.normal(shape: [4, 6])
        let projection = rng.normal(shape: [4, 6])
        func loss(_ x: Tensor) -> (Variable, Variable, Tape) {
            let tape = Tape()
            var dropRng = RandomGenerator(seed: 35)
            let v = Variable(x, requiresGrad: true)
            let y = tape.mul(tape.square(tape.dropout(v, probability: 0.3, rng: &dropRng)), tape.constant(projection))
            return (v, tape.sum(y), tape)
        }
        let (v, l, tape) = loss(x0)
        tape.backward(from: l)
        let analytic = v.grad ?? Tensor.zeros(x0.shape)
        let eps: Float = 1e-2
        var worst: Float = 0
        for j in 0..<x0.count {
            var plus = x0, minus = x0
            plus.scalars[j] += eps
            minus.scalars[j] -= eps
            let numeric = (loss(plus).1.value.scalar - loss(minus).1.value.scalar) / (2 * eps)
            worst = max(worst, abs(analytic.scalars[j] - numeric) / max(1, abs(numeric)))
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
        #expect(analytic.scalars.contains(0), "some entries were dropped")
    }
}
