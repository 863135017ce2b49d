import Foundation
import Testing
import NanoTensor
import NanoModels
import TestSupport

@Suite struct OptimizerTests {
    /// AdamW against the update rule of torch.optim.AdamW written out in Double.
    @Test func adamWMatchesReferenceRule() {
        var rng = RandomGenerator(seed: 31)
        let w0 = rng.normal(shape: [3, 4])
        let p = Variable(w0, requiresGrad: true)
        let opt = AdamW(learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1)
        var w = w0.scalars.map(Double.init), m = [Double](repeating: 0, count: 12), v = m
        for t in 1...5 {
            let g = rng.normal(shape: [3, 4])
            p.grad = g
            opt.step([p])
            for i in 0..<12 {
                let gi = Double(g.scalars[i])
                w[i] -= 0.01 * 0.1 * w[i]
                m[i] = 0.9 * m[i] + 0.1 * gi
                v[i] = 0.99 * v[i] + 0.01 * gi * gi
                let mh = m[i] / (1 - pow(0.9, Double(t))), vh = v[i] / (1 - pow(0.99, Double(t)))
                w[i] -= 0.01 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        #expect(isClose(p.value, Tensor(shape: [3, 4], scalars: w.map(Float.init)), rtol: 1e-5, atol: 1e-6))
    }

    @Test func adamWSkipsDecayForVectors() {
        let bias = Variable(Tensor.ones([3]), requiresGrad: true)
        bias.grad = Tensor.zeros([3])
        AdamW(learningRate: 0.1, weightDecay: 0.5).step([bias])
        #expect(bias.value == Tensor.ones([3]))
    }

    /// SGD with momentum and Nesterov against torch.optim.SGD's rule written out.
    @Test(arguments: [false, true])
    func sgdMomentumMatchesReferenceRule(nesterov: Bool) {
        var rng = RandomGenerator(seed: 32)
        let p = Variable(rng.normal(shape: [5]), requiresGrad: true)
        var w = p.value.scalars.map(Double.init), buf = [Double](repeating: 0, count: 5)
        let opt = SGD(learningRate: 0.1, momentum: 0.9, nesterov: nesterov, weightDecay: 0.01)
        for t in 0..<4 {
            let g = rng.normal(shape: [5])
            p.grad = g
            opt.step([p])
            for i in 0..<5 {
                let d = Double(g.scalars[i]) + 0.01 * w[i]
                buf[i] = t == 0 ? d : 0.9 * buf[i] + d
                w[i] -= 0.1 * (nesterov ? d + 0.9 * buf[i] : buf[i])
            }
        }
        #expect(isClose(p.value, Tensor(shape: [5], scalars: w.map(Float.init)), rtol: 1e-5, atol: 1e-6))
    }

    @Test func clippingScalesToMaxNorm() {
        let a = Variable(Tensor.zeros([2]), requiresGrad: true), b = Variable(Tensor.zeros([1]), requiresGrad: true)
        a.grad = Tensor(shape: [2], scalars: [3, 0]); b.grad = Tensor(shape: [1], scalars: [4])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(isClose(a.grad!, Tensor(shape: [2], scalars: [0.6, 0]), rtol: 1e-5, atol: 1e-6))
        #expect(isClose(b.grad!, Tensor(shape: [1], scalars: [0.8]), rtol: 1e-5, atol: 1e-6))
        // Below the threshold nothing changes.
        #expect(clipGradientNorm([a, b], maxNorm: 10) < 1.0001)
        #expect(isClose(b.grad!, Tensor(shape: [1], scalars: [0.8]), rtol: 1e-5, atol: 1e-6))
    }

    @Test func warmupThenCosineSchedule() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, decay: .cosine, minimum: 0.1)
        #expect(abs(s.rate(at: 0) - 0.1) < 1e-6)
        #expect(abs(s.rate(at: 9) - 1) < 1e-6)
        #expect(abs(s.rate(at: 10) - 1) < 1e-6)
        #expect(abs(s.rate(at: 60) - 0.55) < 1e-5)      // half way: (1 + 0.1) / 2
        #expect(abs(s.rate(at: 110) - 0.1) < 1e-6)
        #expect(abs(s.rate(at: 500) - 0.1) < 1e-6)
        let linear = LearningRateSchedule(peak: 2, warmupSteps: 0, totalSteps: 4, decay: .linear)
        #expect([0, 1, 2, 3, 4].map { linear.rate(at: $0) } == [2, 1.5, 1, 0.5, 0])
        #expect(LearningRateSchedule.constant(0.3).rate(at: 1000) == 0.3)
    }
}
