import NanoModels

/// `kl_divergence`: how far a language model's next-token distributions drift from the
/// reference model's (the uncompressed one), as llama.cpp's `llama-perplexity --kl-divergence`
/// reports it, on the same chunks and scored tokens as `perplexity` (see `LanguageModelChunks`;
/// the text is tokenized with the reference's tokenizer, `limit` keeps the first N chunks).
///
/// Metrics: `kl_mean`, `kl_median`, `kl_p99`, `kl_max` of KL(reference ‖ model) per scored
/// token (nats), `same_top` (share of tokens whose top token agrees) and `delta_perplexity`
/// (PPL(model) − PPL(reference)). A model compared with itself scores 0, 0, 0, 0, 1, 0.
///
/// A model whose byte-level BPE vocabulary differs from the reference's (a trimmed vocabulary, a
/// renumbered one) is compared token by token string, through the `VocabularyMapping` that
/// decoder distillation uses; every token of the model must be in the reference's vocabulary.
/// The text is then tokenized with the model's tokenizer (every piece it makes exists in the
/// reference too, so both read the same token sequence), `same_top` asks whether the model's top
/// token is the same string as the reference's, and the KL runs over the union of the two
/// vocabularies: the reference's mass r on the tokens the model lacks forms one rest bucket, given
/// to the model at the same mass r, so the figure is (1 − r) · KL(reference restricted to the
/// model's tokens ‖ model) (`LogProbabilities.klDivergence(reference:model:modelIds:…)`).
/// `kl_rest_mass` reports the mean r. `delta_perplexity` compares both models on the model's
/// tokens; `nll_per_byte` of `perplexity` compares across tokenizers.
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
        let mapping = try vocabularyMapping(model, reference: reference, modelSize: input.model.vocabularySize,
                                            referenceSize: referenceInput.model.vocabularySize, task: task)
        // The context must suit both models: checked against the smaller of the two.
        let context = try LanguageModelData.checkedContext(context ?? min(input.defaultContext, referenceInput.defaultContext),
                                                           input.model.contextLength < referenceInput.model.contextLength ? input : referenceInput,
                                                           task: task)
        guard let mapping else {
            let chunks = try LanguageModelData.chunks(referenceInput, data: data, limit: limit, context: context, task: task)
            let r = LanguageModelEvaluation.klDivergence(input.model, reference: referenceInput.model, chunks: chunks, batchSize: batchSize)
            return metrics(r)
        }
        let chunks = try LanguageModelData.chunks(input, data: data, limit: limit, context: context, task: task)
        let r = LanguageModelEvaluation.klDivergence(input.model, reference: referenceInput.model, mapping: mapping, chunks: chunks, batchSize: batchSize)
        var all = metrics(r)
        all[.klRestMass] = r.restMass
        return all
    }

    static func metrics(_ r: LanguageModelEvaluation.KLDivergence) -> [MetricKey: Double] {
        [.klMean: r.mean, .klMedian: r.median, .klP99: r.p99, .klMax: r.maximum, .sameTop: r.sameTop, .deltaPerplexity: r.deltaPerplexity]
    }

    /// nil when the model reads the reference's token ids as they are (the same vocabulary); the
    /// mapping by token string when both are byte-level BPE models and the model's tokens are a
    /// subset or renumbering of the reference's; otherwise the error naming what differs.
    static func vocabularyMapping(_ model: EvaluatedModel, reference: EvaluatedModel, modelSize: Int, referenceSize: Int,
                                  task: String) throws -> VocabularyMapping? {
        guard case .byteLevelBPE(let tokenizer)? = model.input, case .byteLevelBPE(let referenceTokenizer)? = reference.input else {
            guard modelSize == referenceSize else {
                throw EvaluationError.referenceMismatch(task: task, expected: "a vocabulary of \(referenceSize) tokens", found: "\(modelSize)")
            }
            return nil
        }
        if modelSize == referenceSize && tokenizer.tokens == referenceTokenizer.tokens { return nil }
        guard tokenizer.tokens.count == modelSize else {
            throw EvaluationError.referenceMismatch(task: task, expected: "a model whose \(modelSize) output rows are its tokenizer's tokens",
                                                    found: "\(tokenizer.tokens.count) tokens")
        }
        do {
            return try VocabularyMapping(smaller: tokenizer.tokens, larger: referenceTokenizer.tokens, largerRows: referenceSize)
        } catch let missing as VocabularyMapping.MissingToken {
            throw EvaluationError.referenceMismatch(task: task, expected: "a vocabulary that holds every token of the model's (the model's is the reference's, trimmed or renumbered)",
                                                    found: "none for the model's token \(missing.token.debugDescription) (id \(missing.id))")
        }
    }
}
