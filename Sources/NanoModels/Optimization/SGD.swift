import NanoTensor

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay
/// (PyTorch's `torch.optim.SGD` update rule).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private var velocity: [ObjectIdentifier: [Float]] = [:]

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Variable]) {
        for p in parameters {
            guard let g = p.grad else { continue }
            let id = ObjectIdentifier(p)
            var v = velocity[id] ?? [Float](repeating: 0, count: g.count)
            let (lr, mu, wd, nest) = (learningRate, momentum, weightDecay, nesterov)
            let first = velocity[id] == nil
            g.scalars.withUnsafeBufferPointer { gb in
                p.value.scalars.withUnsafeMutableBufferPointer { w in
                    v.withUnsafeMutableBufferPointer { vb in
                        for i in 0..<gb.count {
                            var d = gb[i] + wd * w[i]
                            if mu != 0 {
                                vb[i] = first ? d : mu * vb[i] + d
                                d = nest ? d + mu * vb[i] : vb[i]
                            }
                            w[i] -= lr * d
                        }
                    }
                }
            }
            if mu != 0 { velocity[id] = v }
        }
    }
}
