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

    /// The linear map W·h + b that best takes the student's hidden rows `student` [N, Ds] to the
    /// teacher's `teacher` [N, Dt] in least squares (ridge 1e-6 · the mean squared input): where a
    /// decoder's learned projection starts, so that hidden_mse starts from the student as built
    /// (a width-pruned student's channels are the teacher's own, and the fit finds them) instead
    /// of pulling the student towards a random map. Solved in Double through the normal equations
    /// (`CholeskyInverse.lowerCholesky`); nil when they are singular.
    static func leastSquaresProjection(student: Tensor, teacher: Tensor) -> Linear? {
        let (n, ds, dt) = (student.shape[0], student.shape[1], teacher.shape[1])
        precondition(teacher.shape[0] == n, "leastSquaresProjection: \(n) student rows, \(teacher.shape[0]) teacher rows")
        // X = [H_s, 1]: the bias is the last column's weight.
        var xs = [Float](repeating: 1, count: n * (ds + 1))
        for r in 0..<n { for c in 0..<ds { xs[r * (ds + 1) + c] = student.scalars[r * ds + c] } }
        let x = Tensor(shape: [n, ds + 1], scalars: xs)
        let m = ds + 1
        var g = Tensor.matmul(x, x, transposeA: true).scalars.map(Double.init)        // XᵀX [m, m]
        let b = Tensor.matmul(x, teacher, transposeA: true).scalars.map(Double.init)  // XᵀY [m, Dt]
        let ridge = 1e-6 * (0..<m).reduce(0.0) { $0 + g[$1 * m + $1] } / Double(m) + 1e-12
        for i in 0..<m { g[i * m + i] += ridge }
        guard let l = CholeskyInverse.lowerCholesky(g, n: m) else { return nil }
        var w = [Float](repeating: 0, count: dt * ds), bias = [Float](repeating: 0, count: dt)
        var y = [Double](repeating: 0, count: m)
        for j in 0..<dt {
            // L·Lᵀ·a = XᵀY[:, j]: forward, then back substitution.
            for i in 0..<m {
                var s = b[i * dt + j]
                for k in 0..<i { s -= l[i * m + k] * y[k] }
                y[i] = s / l[i * m + i]
            }
            for i in stride(from: m - 1, through: 0, by: -1) {
                var s = y[i]
                for k in (i + 1)..<max(i + 1, m) { s -= l[k * m + i] * y[k] }
                y[i] = s / l[i * m + i]
            }
            for i in 0..<ds { w[j * ds + i] = Float(y[i]) }
            bias[j] = Float(y[ds])
        }
        return Linear(weight: Tensor(shape: [dt, ds], scalars: w), bias: Tensor(shape: [dt], scalars: bias))
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
