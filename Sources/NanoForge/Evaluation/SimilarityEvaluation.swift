/// `similarity`: `a<TAB>b<TAB>score` pairs with graded human scores; reports the Spearman
/// correlation between the embeddings' cosine and the score (as in STS benchmarks).
public enum SimilarityEvaluation {
    public static func evaluate(_ model: EvaluatedModel, data: String, batchSize: Int = 32) throws -> [MetricKey: Double] {
        let encoder = try EvaluationTask.sentenceEncoder(model, task: "similarity")
        let pairs = try EvaluationData.scoredPairs(data)
        guard pairs.count >= 2 else {
            throw EvaluationError.undefinedMetric(task: "similarity", metric: "spearman", reason: "\(data) has fewer than 2 pairs")
        }
        let cosines = Metrics.rowCosines(encoder.encode(pairs.map(\.a), batchSize: batchSize, progress: nil),
                                         encoder.encode(pairs.map(\.b), batchSize: batchSize, progress: nil))
        let rho = Metrics.spearman(cosines, pairs.map(\.score))
        guard rho.isFinite else {
            throw EvaluationError.undefinedMetric(task: "similarity", metric: "spearman",
                                                  reason: "the scores in \(data) or the model's cosines are all equal")
        }
        return [.spearman: rho]
    }
}
