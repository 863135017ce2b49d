import NanoModels
import NanoTensor

/// The sensitivity measure of `mixed_precision` with ggml types: the mean KL divergence
/// KL(before ‖ now) per scored token between the model as it is now and the model as it was when
/// the probe was made, on a few chunks of the calibration text, cut and scored as
/// `kl_divergence` does (`LanguageModelChunks`: second halves scored). The reference's logits
/// are computed once; each `measure()` is one forward pass over the chunks.
final class KLProbe {
    let model: any CausalLanguageModel
    let chunks: LanguageModelChunks
    private let referenceLogits: [Tensor]

    /// Chunks of `context` tokens (capped at the model's context), at most `chunkLimit` of them,
    /// from the calibration lines joined by line ends; `file` names the calibration data in errors.
    init(_ evaluated: EvaluatedModel, lines: [String], context: Int, chunkLimit: Int, file: String) throws {
        let input = try LanguageModelData.input(evaluated, task: "mixed_precision")
        let context = min(context, input.model.contextLength)
        let tokens = input.tokenizer.encode(lines.joined(separator: "\n"))
        chunks = LanguageModelChunks(tokens: tokens, context: context, bos: input.tokenizer.beginningOfSequence, maximumChunks: chunkLimit)
        guard !chunks.sequences.isEmpty else {
            throw EvaluationError.dataMismatch(file: file, line: nil, expected: "at least one chunk of \(context) tokens for the KL probe",
                                               found: "\(tokens.count) tokens")
        }
        model = input.model
        referenceLogits = LanguageModelEvaluation.logitBatches(model, chunks: chunks)
    }

    /// Tokens whose KL divergence a measurement averages.
    var scoredTokens: Int { chunks.scoredTokenCount }

    /// The KL divergence of the model now against the reference.
    func measure() -> LanguageModelEvaluation.KLDivergence {
        LanguageModelEvaluation.klDivergence(model, referenceLogits: referenceLogits, chunks: chunks)
    }
}
