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
}
