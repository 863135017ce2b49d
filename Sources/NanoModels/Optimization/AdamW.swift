import Foundation
import NanoTensor

/// Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
/// Regularization"), the update of PyTorch's `torch.optim.AdamW`:
/// w ← w − lr·wd·w, then w ← w − lr·m̂ / (√v̂ + ε).
public final class AdamW: Optimizer {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Names of parameters exempt from weight decay are decided by the caller through `decay`.
    public var decay: (Variable) -> Bool

    private struct Moments { var m: [Float]; var v: [Float] }
    private var moments: [ObjectIdentifier: Moments] = [:]
    /// Updates applied so far; a resumed run sets it with the restored moments.
    public var stepCount = 0

    /// The first and second moments of `parameter`, or nil before its first update (for checkpoints).
    public func moments(of parameter: Variable) -> (m: [Float], v: [Float])? {
        moments[ObjectIdentifier(parameter)].map { ($0.m, $0.v) }
    }

    /// Restores the moments of `parameter` from a checkpoint.
    public func setMoments(of parameter: Variable, m: [Float], v: [Float]) {
        precondition(m.count == parameter.value.count && v.count == parameter.value.count, "AdamW: moments do not match \(parameter.shape)")
        moments[ObjectIdentifier(parameter)] = Moments(m: m, v: v)
    }

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01, decay: @escaping (Variable) -> Bool = { $0.rank >= 2 }) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decay = decay
    }

    public func step(_ parameters: [Variable]) {
        stepCount += 1
        let t = Float(stepCount)
        let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
        let (b1, b2, eps, lr) = (beta1, beta2, epsilon, learningRate)
        // Folding the bias corrections into the step size: lr·m̂/(√v̂+ε) = (lr/c1)·m/(√v/√c2 + ε).
        let stepSize = lr / c1, rootC2 = c2.squareRoot()
        for p in parameters {
            guard let g = p.grad else { continue }
            let id = ObjectIdentifier(p)
            var state = moments.removeValue(forKey: id) ?? Moments(m: [Float](repeating: 0, count: g.count), v: [Float](repeating: 0, count: g.count))
            let shrink: Float = decay(p) ? 1 - lr * weightDecay : 1
            g.scalars.withUnsafeBufferPointer { gb in
                p.value.scalars.withUnsafeMutableBufferPointer { w in
                    state.m.withUnsafeMutableBufferPointer { m in
                        state.v.withUnsafeMutableBufferPointer { v in
                            for i in 0..<gb.count {
                                let gi = gb[i]
                                m[i] = b1 * m[i] + (1 - b1) * gi
                                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                w[i] = w[i] * shrink - stepSize * m[i] / (v[i].squareRoot() / rootC2 + eps)
                            }
                        }
                    }
                }
            }
            moments[id] = state
        }
    }
}
