/// `retrieval`: aligned `query<TAB>target` pairs; every query ranks all targets by cosine of the
/// embeddings, and its own target should come first. Reports top-1 accuracy and mean reciprocal
/// rank, ties counted against the query (`Metrics.retrievalRanks`).
public enum RetrievalEvaluation {
    public static func evaluate(_ model: EvaluatedModel, data: String, limit: Int?, batchSize: Int = 32) throws -> [MetricKey: Double] {
        let encoder = try EvaluationTask.sentenceEncoder(model, task: "retrieval")
        let pairs = try EvaluationData.pairs(data, limit: limit)
        let queries = encoder.encode(pairs.map(\.query), batchSize: batchSize, progress: nil)
        let targets = encoder.encode(pairs.map(\.target), batchSize: batchSize, progress: nil)
        let (top1, mrr) = Metrics.retrievalSummary(ranks: Metrics.retrievalRanks(queries: queries, targets: targets))
        return [.retrievalTop1: top1, .retrievalMRR: mrr]
    }
}
