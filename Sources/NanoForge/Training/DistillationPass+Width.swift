import NanoModels
import NanoTensor

/// What the sentence-encoder distillation needs beyond the loss terms: the projection that
/// compares a narrower student with a teacher, and the last layers' attention maps.
extension DistillationPass {
    /// A learned linear map from the student's width to a teacher's (TinyBERT's W_h), trained
    /// with the student and not exported. The embedding losses compare `W·e_s + b` with the
    /// teacher's embedding, hidden_mse `W·h_s + b` with its hidden states: every term stays in
    /// the teacher's space, where the teacher's geometry is defined, and the student is free to
    /// use its narrower space as it likes. When the student is the teacher narrowed to
    /// `channels`, W starts as the selection that puts student channel i back at teacher channel
    /// `channels[i]` (zero bias), so the loss starts from the student as built; otherwise
    /// N(0, 0.02).
    static func projection(_ width: Int, _ teacherWidth: Int, channels: [Int]?, rng: inout RandomGenerator) -> Linear {
        guard let channels, channels.count == width, channels.allSatisfy({ $0 < teacherWidth }) else {
            return Linear(width, teacherWidth, std: 0.02, rng: &rng)
        }
        var w = Tensor.zeros([teacherWidth, width])
        for (i, c) in channels.enumerated() { w.scalars[c * width + i] = 1 }
        return Linear(weight: w, bias: .zeros([teacherWidth]))
    }

    /// Observers on the last layer's attention of the student and of each teacher: the student's
    /// scores on the training tape (with their gradient), the teachers' as plain tensors.
    /// `remove()` takes them off again, so the models leave the pass as they came.
    final class LastLayerAttention {
        let observed: [MultiHeadAttention]
        var studentScores: Variable?
        var teacherScores: [Tensor?]

        init(student: BertEncoder, teachers: [BertEncoder]) {
            observed = ([student] + teachers).compactMap { $0.layers.last?.attention }
            teacherScores = Array(repeating: nil, count: teachers.count)
            observed.first?.attentionObserver = { [unowned self] in self.studentScores = $0.scores }
            for (t, attention) in observed.dropFirst().enumerated() {
                attention.attentionObserver = { [unowned self] in self.teacherScores[t] = $0.scores.value }
            }
        }

        func remove() { for attention in observed { attention.attentionObserver = nil } }
    }
}
