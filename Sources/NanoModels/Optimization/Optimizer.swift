import NanoTensor

/// Updates parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    /// The learning rate of the next step (schedules set it before each step).
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient.
    func step(_ parameters: [Variable])
}

/// Gradient clipping by global L2 norm (as torch.nn.utils.clip_grad_norm_): when the norm over
/// all gradients exceeds `maxNorm`, every gradient is scaled by maxNorm / norm.
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        g.scalars.withUnsafeBufferPointer { b in
            var acc: Float = 0
            for v in b { acc += v * v }
            total += Double(acc)
        }
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm > 0 {
        let factor = maxNorm / (norm + 1e-6)
        for p in parameters where p.grad != nil { p.grad = p.grad! * factor }
    }
    return norm
}
