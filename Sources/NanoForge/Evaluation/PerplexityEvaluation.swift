import Foundation
import NanoModels
import NanoTensor

/// `perplexity`: a language model's perplexity on plain text, in one of two conventions.
///
/// **llama.cpp's** (`llama-perplexity`), for token-level models always and for character-level
/// decoders when a `context` is given: the whole file is tokenized once, cut into chunks of
/// `context` tokens (default min(512, the model's context length)), and only each chunk's second
/// half is scored (see `LanguageModelChunks`); `limit` keeps the first N chunks. Reports
/// `perplexity` and `perplexity_stderr` (llama.cpp's "PPL = x +/- y"), and `nll_per_byte`: the
/// scored tokens' total NLL over their text's UTF-8 bytes. Per byte, models whose tokenizers cut
/// the text differently (a trimmed vocabulary) compare; exp(nll_per_byte × B / T) puts it back on
/// a tokenizer that cuts B bytes into T tokens.
///
/// **Character windows**, nanoforge's earlier convention, for a character-level decoder without
/// a `context` (kept so earlier figures stay comparable): the first `limit` non-blank lines are
/// joined with "\n" and encoded with the decoder's `CharacterVocabulary` (characters outside it
/// are dropped). The text is cut into consecutive, non-overlapping windows of `contextLength`
/// characters (the last one shorter); within a window every character after the first is
/// predicted from those before it. Perplexity is exp(mean NLL) over all predicted characters.
public enum PerplexityEvaluation {
    public static func evaluate(_ model: EvaluatedModel, data: String, limit: Int?, context: Int? = nil,
                                batchSize: Int = 32) throws -> [MetricKey: Double] {
        if let input = model.languageModel, context != nil || !input.characterLevel {
            let chunks = try LanguageModelData.chunks(try LanguageModelData.input(model, task: "perplexity"), data: data, limit: limit,
                                                      context: context, task: "perplexity")
            let result = LanguageModelEvaluation.perplexity(input.model, chunks: chunks, batchSize: batchSize)
            // The scored tokens are those after each scored position (LanguageModelChunks).
            let bytes = chunks.sequences.reduce(0) { sum, chunk in
                sum + chunks.scoredPositions.reduce(0) { $0 + input.tokenizer.byteCount(chunk[$1 + 1]) }
            }
            var metrics: [MetricKey: Double] = [.perplexity: result.perplexity, .perplexityStandardError: result.standardError]
            if bytes > 0 { metrics[.nllPerByte] = result.meanNegativeLogLikelihood * Double(result.tokens) / Double(bytes) }
            return metrics
        }
        guard let (decoder, vocabulary) = model.decoder else {
            throw EvaluationError.unsupported(task: "perplexity", model: model.kindName, hint: "it needs a decoder")
        }
        try EvaluatedModel.checkVocabulary(decoder, vocabulary)
        let tokens = vocabulary.encode(try EvaluationData.sentences(data, limit: limit).joined(separator: "\n"))
        guard tokens.count >= 2 else {
            throw EvaluationError.dataMismatch(file: data, line: nil, expected: "at least 2 characters in the decoder's vocabulary",
                                               found: "\(tokens.count)")
        }
        let nll = meanNegativeLogLikelihood(decoder, tokens: tokens, batchSize: batchSize)
        return [.perplexity: Metrics.perplexity(meanNegativeLogLikelihood: nll)]
    }

    /// Mean next-token NLL (nats) over consecutive windows of `tokens` (see the type's comment).
    public static func meanNegativeLogLikelihood(_ decoder: any NextTokenLogitsModel, tokens: [Int], batchSize: Int = 32) -> Double {
        // A window of L+1 tokens gives L predictions; windows share their boundary token.
        let length = decoder.contextLength
        var starts: [Int] = []
        var s = 0
        while s + 1 < tokens.count { starts.append(s); s += length }
        let full = starts.filter { $0 + length < tokens.count }
        let partial = starts.filter { $0 + length >= tokens.count }
        var total = 0.0, count = 0
        for b in stride(from: 0, to: full.count, by: max(1, batchSize)) {
            let group = Array(full[b..<min(b + max(1, batchSize), full.count)])
            total += sumNLL(decoder, tokens: tokens, starts: group, length: length)
            count += group.count * length
        }
        for start in partial {
            let l = tokens.count - 1 - start
            total += sumNLL(decoder, tokens: tokens, starts: [start], length: l)
            count += l
        }
        return total / Double(max(1, count))
    }

    /// Summed NLL of predicting tokens[s+1...s+length] from tokens[s..<s+length] for each start.
    static func sumNLL(_ decoder: any NextTokenLogitsModel, tokens: [Int], starts: [Int], length: Int) -> Double {
        let inputs = starts.flatMap { tokens[$0..<($0 + length)] }
        // logits: [B, T, V] → log-probabilities over V
        let logProbabilities = decoder.nextTokenLogits(inputs, batch: starts.count, length: length, tape: Tape(recording: false)).value.logSoftmax(axis: -1)
        let v = decoder.vocabularySize
        var sum = 0.0
        for (b, start) in starts.enumerated() {
            for t in 0..<length {
                sum -= Double(logProbabilities.scalars[(b * length + t) * v + tokens[start + t + 1]])
            }
        }
        return sum
    }
}
