import NanoTensor

/// Training losses built on the tape. Cross-entropy is a fused primitive (one pass forward, the
/// softmax-minus-one-hot gradient backward); the others compose differentiable ops.
public enum Loss {
    /// Mean cross-entropy of `logits` [N, C] (any leading axes are flattened) against class ids.
    public static func crossEntropy(_ logits: Variable, targets: [Int], tape: Tape) -> Variable {
        let c = logits.shape[logits.rank - 1]
        let n = logits.value.count / c
        precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows")
        let logProbs = logits.value.reshaped([n, c]).logSoftmax(axis: -1)
        var total: Double = 0
        for (row, target) in targets.enumerated() {
            precondition(target >= 0 && target < c, "crossEntropy: target \(target) outside 0..<\(c)")
            total -= Double(logProbs.scalars[row * c + target])
        }
        return tape.record(Tensor(scalar: Float(total / Double(n))), inputs: [logits]) { g, _ in
            // d/dlogits = (softmax − onehot) / N
            var grad = logProbs.exp()
            let scale = g.scalar / Float(n)
            grad.scalars.withUnsafeMutableBufferPointer { gb in
                for i in 0..<gb.count { gb[i] *= scale }
                for (row, target) in targets.enumerated() { gb[row * c + target] -= scale }
            }
            return [grad.reshaped(logits.shape)]
        }
    }

    /// Knowledge-distillation loss: T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over
    /// rows (Hinton et al., "Distilling the Knowledge in a Neural Network"; the T² keeps gradient
    /// magnitudes comparable across temperatures).
    public static func klDivergence(student: Variable, teacher: Variable, temperature: Float = 1, tape: Tape) -> Variable {
        let c = student.shape[student.rank - 1]
        let rows = Float(student.value.count / c)
        let logQ = tape.logSoftmax(tape.scale(student, by: 1 / temperature), axis: -1)
        let logP = tape.logSoftmax(tape.scale(teacher, by: 1 / temperature), axis: -1)
        let p = tape.exp(logP)
        let kl = tape.sum(tape.mul(p, tape.sub(logP, logQ)))
        return tape.scale(kl, by: temperature * temperature / rows)
    }

    /// Mean squared error over all elements.
    public static func meanSquaredError(_ a: Variable, _ b: Variable, tape: Tape) -> Variable {
        precondition(a.shape == b.shape, "mse: shapes \(a.shape) and \(b.shape) differ")
        return tape.mean(tape.square(tape.sub(a, b)))
    }

    /// 1 − cosine similarity along the last axis, averaged over rows.
    public static func cosine(_ a: Variable, _ b: Variable, epsilon: Float = 1e-8, tape: Tape) -> Variable {
        precondition(a.shape == b.shape, "cosine: shapes \(a.shape) and \(b.shape) differ")
        let dot = tape.sum(tape.mul(a, b), axes: [-1])
        let na = tape.sqrt(tape.addScalar(tape.sum(tape.square(a), axes: [-1]), epsilon))
        let nb = tape.sqrt(tape.addScalar(tape.sum(tape.square(b), axes: [-1]), epsilon))
        let cos = tape.div(dot, tape.mul(na, nb))
        return tape.addScalar(tape.neg(tape.mean(cos)), 1)
    }
}
