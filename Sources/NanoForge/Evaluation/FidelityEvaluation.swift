import NanoQuant
import NanoTensor

/// `fidelity`: how closely the model under test reproduces the uncompressed model's outputs, as
/// the mean and minimum row-wise cosine between their outputs on the same lines (embeddings for
/// encoders, logits for classifiers and decoders; see `EvaluatedModel.outputs`). A line is one
/// input, or a `label<TAB>input` record whose last field is the input. Outputs of another width
/// are compared through their similarity structure (`compare`). For classifiers it also reports
/// `same_top` (the share of lines whose top class is the reference's) and `kl_mean` (mean
/// KL(softmax(reference) ‖ softmax(model)) in nats), both per line by `IntegerCNN.compareLogits`,
/// the comparison `export --evaluate` prints for a C export.
public enum FidelityEvaluation {
    public static func evaluate(_ model: EvaluatedModel, reference: EvaluatedModel, data: String, limit: Int?,
                                batchSize: Int = 32) throws -> [MetricKey: Double] {
        guard model.kindName == reference.kindName else {
            throw EvaluationError.referenceMismatch(task: "fidelity", expected: "a \(reference.kindName)", found: "a \(model.kindName)")
        }
        let lines = try EvaluationData.inputs(data, limit: limit)
        let referenceOutputs = try reference.outputs(for: lines, file: data, batchSize: batchSize)
        let outputs = try model.outputs(for: lines, file: data, batchSize: batchSize)
        var metrics = try compare(outputs, referenceOutputs)
        if model.classifier != nil { metrics.merge(classAgreement(outputs, referenceOutputs)) { _, new in new } }
        return metrics
    }

    /// `same_top` and `kl_mean` of class logits [N, classes] against the reference's.
    public static func classAgreement(_ outputs: Tensor, _ referenceOutputs: Tensor) -> [MetricKey: Double] {
        guard outputs.rank == 2, outputs.shape == referenceOutputs.shape, outputs.shape[0] > 0 else { return [:] }
        let (n, classes) = (outputs.shape[0], outputs.shape[1])
        var same = 0, kl = 0.0
        for r in 0..<n {
            let c = IntegerCNN.compareLogits(Array(referenceOutputs.scalars[r * classes..<(r + 1) * classes]),
                                             Array(outputs.scalars[r * classes..<(r + 1) * classes]))
            if c.sameTop { same += 1 }
            kl += c.kl
        }
        return [.sameTop: Double(same) / Double(n), .klMean: kl / Double(n)]
    }

    /// The metrics from outputs already computed, for callers that cache the reference's outputs
    /// across stages.
    /// Outputs of another width (a student distilled with a narrower `hidden`) share no
    /// coordinates with the reference's; they are compared through each line's similarities to
    /// all the lines: the row-wise cosine of the two Gram matrices of normalised outputs.
    public static func compare(_ outputs: Tensor, _ referenceOutputs: Tensor) throws -> [MetricKey: Double] {
        if outputs.rank == 2, referenceOutputs.rank == 2, outputs.shape[0] == referenceOutputs.shape[0], outputs.shape[1] != referenceOutputs.shape[1] {
            func gram(_ x: Tensor) -> Tensor { let n = Metrics.normalizedRows(x); return Tensor.matmul(n, n, transposeB: true) }
            let (mean, min) = Metrics.cosineSummary(gram(outputs), gram(referenceOutputs))
            return [.cosineMean: mean, .cosineMin: min]
        }
        guard outputs.shape == referenceOutputs.shape else {
            throw EvaluationError.referenceMismatch(task: "fidelity", expected: "outputs of shape \(referenceOutputs.shape)",
                                                    found: "\(outputs.shape)")
        }
        let (mean, min) = Metrics.cosineSummary(outputs, referenceOutputs)
        return [.cosineMean: mean, .cosineMin: min]
    }
}
