import NanoModels
import NanoTensor

/// The distillation loss terms, composed from differentiable tape ops (their gradients are
/// checked against finite differences in the tests). Teacher values are constants.
public enum DistillationLosses {
    /// 1 − cos(student, teacher) of the pooled sentence embeddings, averaged over the batch.
    /// student: [B, D] (on the tape), teacher: [B, D].
    public static func embeddingCosine(student: Variable, teacher: Tensor, tape: Tape) -> Variable {
        Loss.cosine(student, tape.constant(teacher), tape: tape)
    }

    /// Mean squared error of the pooled sentence embeddings. student: [B, D], teacher: [B, D].
    public static func embeddingMSE(student: Variable, teacher: Tensor, tape: Tape) -> Variable {
        Loss.meanSquaredError(student, tape.constant(teacher), tape: tape)
    }

    /// Mean squared error of the last hidden states over the real (unpadded) tokens, through
    /// `projection` when the student's width differs from the teacher's (TinyBERT's W_h; trained
    /// with the student and discarded after). student: [B, T, Ds], teacher: [B, T, Dt],
    /// attentionMask: [B, T] of 1/0.
    public static func hiddenMSE(student: Variable, teacher: Tensor, attentionMask: Tensor, projection: Linear?,
                                 tape: Tape) -> Variable {
        let projected = projection.map { $0(student, tape: tape) } ?? student
        precondition(projected.shape == teacher.shape, "hiddenMSE: student \(projected.shape) vs teacher \(teacher.shape)")
        let (b, t, d) = (teacher.shape[0], teacher.shape[1], teacher.shape[2])
        let mask = tape.constant(attentionMask.reshaped([b, t, 1]))
        let diff = tape.mul(tape.sub(projected, tape.constant(teacher)), mask)
        let tokens = Swift.max(1, attentionMask.scalars.reduce(0, +))
        return tape.scale(tape.sum(tape.square(diff)), by: 1 / (tokens * Float(d)))
    }

    /// T² · KL(softmax(teacher/T) ‖ softmax(student/T)) of classifier logits [N, C].
    public static func logitKL(student: Variable, teacher: Tensor, temperature: Float, tape: Tape) -> Variable {
        Loss.klDivergence(student: student, teacher: tape.constant(teacher), temperature: temperature, tape: tape)
    }

    /// MiniLM's attention transfer: T² · KL(teacher ‖ student) of the attention distributions
    /// softmax(scores / T) over the keys, averaged over the real (unpadded) query tokens and the
    /// heads. Scores are the masked pre-softmax maps [B, H, T, T] (`AttentionMaps.scores`), so
    /// padded keys get no weight in either distribution. With equal head counts the KL is taken
    /// head by head (MiniLM); otherwise heads do not correspond and both distributions are
    /// averaged over their heads first (KL of the head-mean distributions).
    public static func attentionKL(student: Variable, teacher: Tensor, attentionMask: Tensor, temperature: Float,
                                   tape: Tape) -> Variable {
        let (b, t) = (attentionMask.shape[0], attentionMask.shape[1])
        precondition(student.shape[0] == b && student.shape[2] == t && teacher.shape[0] == b && teacher.shape[2] == t,
                     "attentionKL: student \(student.shape), teacher \(teacher.shape), mask \(attentionMask.shape)")
        let queries = tape.constant(attentionMask.reshaped([b, 1, t]))
        let tokens = Swift.max(1, attentionMask.scalars.reduce(0, +))
        let scaledTeacher = tape.scale(tape.constant(teacher), by: 1 / temperature)
        let scaledStudent = tape.scale(student, by: 1 / temperature)
        let perRow: Variable, heads: Float
        if student.shape[1] == teacher.shape[1] {
            let logQ = tape.logSoftmax(scaledStudent, axis: -1), logP = tape.logSoftmax(scaledTeacher, axis: -1)
            perRow = tape.sum(tape.mul(tape.exp(logP), tape.sub(logP, logQ)), axes: [-1])           // [B, H, T]
            heads = Float(student.shape[1])
        } else {
            let p = tape.mean(tape.softmax(scaledTeacher, axis: -1), axes: [1], keepDims: true)
            let q = tape.mean(tape.softmax(scaledStudent, axis: -1), axes: [1], keepDims: true)    // [B, 1, T, T]
            let epsilon: Float = 1e-12    // padded keys: 0 · log(ε) = 0 instead of 0 · log 0
            let logRatio = tape.sub(tape.log(tape.addScalar(p, epsilon)), tape.log(tape.addScalar(q, epsilon)))
            perRow = tape.sum(tape.mul(p, logRatio), axes: [-1])                                      // [B, 1, T]
            heads = 1
        }
        let kl = tape.sum(tape.mul(perRow, queries))
        return tape.scale(kl, by: temperature * temperature / (heads * tokens))
    }
}

/// The weighted sum of a step's loss terms, built on the step's tape as terms arrive: the one
/// accumulator every student family's loss uses.
struct WeightedLossSum {
    private(set) var total: Variable?

    mutating func add(_ term: Variable, weight: Float, tape: Tape) {
        let weighted = tape.scale(term, by: weight)
        total = total.map { tape.add($0, weighted) } ?? weighted
    }

    /// The sum; recipes are validated to hold at least one loss term for the model's family.
    var value: Variable {
        guard let total else { preconditionFailure("WeightedLossSum: no loss term was added") }
        return total
    }
}
