/// `kl_divergence`: how far a language model's next-token distributions drift from the
/// reference model's (the uncompressed one), as llama.cpp's `llama-perplexity --kl-divergence`
/// reports it, on the same chunks and scored tokens as `perplexity` (see `LanguageModelChunks`;
/// the text is tokenized with the reference's tokenizer, `limit` keeps the first N chunks).
///
/// Metrics: `kl_mean`, `kl_median`, `kl_p99`, `kl_max` of KL(reference ‖ model) per scored
/// token (nats), `same_top` (share of tokens whose top token agrees) and `delta_perplexity`
/// (PPL(model) − PPL(reference)). A model compared with itself scores 0, 0, 0, 0, 1, 0.
///
/// Differences from llama.cpp, which stores the reference's log-probabilities on disk: it rounds
/// them to 16 bits and drops terms with log p < −16; here both models run side by side and every
/// term is summed in Double, so small divergences are exact rather than floored by that rounding.
public enum KLDivergenceEvaluation {
    public static func evaluate(_ model: EvaluatedModel, reference: EvaluatedModel, data: String, limit: Int?, context: Int?,
                                batchSize: Int = 32) throws -> [MetricKey: Double] {
        let task = "kl_divergence"
        let input = try LanguageModelData.input(model, task: task)
        let referenceInput = try LanguageModelData.input(reference, task: task)
        guard input.model.vocabularySize == referenceInput.model.vocabularySize else {
            throw EvaluationError.referenceMismatch(task: task, expected: "a vocabulary of \(referenceInput.model.vocabularySize) tokens",
                                                    found: "\(input.model.vocabularySize)")
        }
        // The context must suit both models: checked against the smaller of the two.
        let context = try LanguageModelData.checkedContext(context ?? min(input.defaultContext, referenceInput.defaultContext),
                                                           input.model.contextLength < referenceInput.model.contextLength ? input : referenceInput,
                                                           task: task)
        let chunks = try LanguageModelData.chunks(referenceInput, data: data, limit: limit, context: context, task: task)
        let r = LanguageModelEvaluation.klDivergence(input.model, reference: referenceInput.model, chunks: chunks, batchSize: batchSize)
        return [.klMean: r.mean, .klMedian: r.median, .klP99: r.p99, .klMax: r.maximum, .sameTop: r.sameTop,
                .deltaPerplexity: r.deltaPerplexity]
    }
}
