import Foundation

/// Log-probabilities of one row of next-token logits, and what language-model evaluation reads
/// from them: the negative log-likelihood of a token, the KL divergence between two rows, the top
/// token. Pure functions of a row, each checked against hand-computed values in
/// `LanguageModelEvaluationTests`.
///
/// Why Double: a vocabulary of 50,000 logits sums 50,000 exponentials, and the KL divergence of a
/// well-quantized model is ~1e-3 nats, a difference of two numbers near the row's entropy. Every
/// logit is widened to Double before the row's maximum is subtracted (llama.cpp subtracts in
/// Float, which rounds a logit far below the maximum by up to 1e-7 of the gap), and log-probabilities
/// are formed as (x − max) − log Σ exp(x − max), so a large maximum never cancels.
public enum LogProbabilities {
    /// The row's maximum m and log Σᵢ exp(xᵢ − m): log softmax(x)ᵢ = (xᵢ − m) − logSum.
    static func shiftedLogSum(_ row: UnsafeBufferPointer<Float>) -> (max: Double, logSum: Double) {
        precondition(!row.isEmpty, "log-probabilities of an empty row")
        var m = row[0]
        for x in row where x > m { m = x }
        let dm = Double(m)
        var sum = 0.0
        for x in row { sum += Foundation.exp(Double(x) - dm) }
        return (dm, Foundation.log(sum))
    }

    /// log Σᵢ exp(xᵢ), computed as max + log Σᵢ exp(xᵢ − max) so no exponential overflows.
    /// An empty row has no normaliser.
    public static func logNormalizer(_ row: UnsafeBufferPointer<Float>) -> Double {
        let (m, logSum) = shiftedLogSum(row)
        return m + logSum
    }

    /// log softmax(row), in Double.
    public static func logSoftmax(_ row: UnsafeBufferPointer<Float>) -> [Double] {
        let (m, logSum) = shiftedLogSum(row)
        return row.map { (Double($0) - m) - logSum }
    }

    /// −log p(token) under softmax(row): the token's negative log-likelihood in nats.
    public static func negativeLogLikelihood(_ row: UnsafeBufferPointer<Float>, token: Int) -> Double {
        precondition(token >= 0 && token < row.count, "negativeLogLikelihood: token \(token) outside 0..<\(row.count)")
        let (m, logSum) = shiftedLogSum(row)
        return logSum - (Double(row[token]) - m)
    }

    /// KL(P ‖ Q) = Σᵢ pᵢ (log pᵢ − log qᵢ) in nats, with P = softmax(reference) and
    /// Q = softmax(model): how much information is lost when the model stands in for the
    /// reference (llama.cpp's `--kl-divergence` orientation). Terms whose pᵢ underflows to 0 add
    /// nothing (the limit of p log p). ≥ 0 up to rounding; exactly 0 for identical rows.
    public static func klDivergence(reference: UnsafeBufferPointer<Float>, model: UnsafeBufferPointer<Float>) -> Double {
        klDivergence(reference: reference, model: model, referenceLogSum: shiftedLogSum(reference), modelLogSum: shiftedLogSum(model))
    }

    /// `klDivergence` with both rows' `shiftedLogSum` already computed.
    static func klDivergence(reference: UnsafeBufferPointer<Float>, model: UnsafeBufferPointer<Float>,
                             referenceLogSum p: (max: Double, logSum: Double), modelLogSum q: (max: Double, logSum: Double)) -> Double {
        precondition(reference.count == model.count, "klDivergence: rows of \(reference.count) and \(model.count) logits")
        return klDivergence(reference: reference, model: model, modelIds: nil, referenceLogSum: p, modelLogSum: q).divergence
    }

    /// KL(P ‖ Q) when the model's vocabulary is the reference's or part of it, tokens matched by
    /// string (`modelIds[i]`: the model's id of reference token i, −1 where the model lacks it;
    /// `VocabularyMapping.smallerIds`). The sum runs over the union of both vocabularies, which is
    /// the model's tokens plus one rest bucket holding the reference's mass r on the tokens the
    /// model lacks. The model has no token in that bucket: it is given the bucket at the
    /// reference's mass r and its own distribution scaled into the remaining 1 − r, so the bucket
    /// adds r·log(r/r) = 0 and
    ///
    ///     KL = Σ_shared pᵢ (log pᵢ − log((1 − r)·q_m(i))) = (1 − r) · KL(P restricted to the model's tokens, renormalised ‖ Q).
    ///
    /// A model that is the reference with tokens removed (a trimmed vocabulary, same weights)
    /// scores 0; what the removal costs shows in r (returned as `restMass`) and in per-byte
    /// perplexity. Terms are summed in the reference's id order, so a renumbered model scores its
    /// unrenumbered figures. `modelIds` nil is the identity (one vocabulary): the plain KL, which
    /// `klDivergence(reference:model:)` computes through this loop.
    static func klDivergence(reference: UnsafeBufferPointer<Float>, model: UnsafeBufferPointer<Float>, modelIds: UnsafeBufferPointer<Int32>?,
                             referenceLogSum p: (max: Double, logSum: Double), modelLogSum q: (max: Double, logSum: Double))
        -> (divergence: Double, restMass: Double) {
        precondition(reference.count == (modelIds?.count ?? reference.count), "klDivergence: \(reference.count) reference logits, \(modelIds?.count ?? 0) mapped ids")
        var sum = 0.0, rest = 0.0
        for i in 0..<reference.count {
            let logP = (Double(reference[i]) - p.max) - p.logSum
            let probability = Foundation.exp(logP)
            let j = modelIds.map { Int($0[i]) } ?? i
            if j < 0 { rest += probability; continue }
            if probability > 0 { sum += probability * (logP - ((Double(model[j]) - q.max) - q.logSum)) }
        }
        let shared = 1 - rest
        if rest > 0 && shared > 0 { sum -= shared * Foundation.log(shared) }
        return (sum, rest)
    }

    /// The index of the largest logit, the first one on a tie (as llama.cpp counts "same top").
    public static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        precondition(!row.isEmpty, "argmax: empty row")
        var best = 0
        for i in 1..<row.count where row[i] > row[best] { best = i }
        return best
    }

    // MARK: Arrays

    /// `logNormalizer` of an array.
    public static func logNormalizer(_ row: [Float]) -> Double { row.withUnsafeBufferPointer { logNormalizer($0) } }
    /// `logSoftmax` of an array.
    public static func logSoftmax(_ row: [Float]) -> [Double] { row.withUnsafeBufferPointer { logSoftmax($0) } }
    /// `negativeLogLikelihood` of an array.
    public static func negativeLogLikelihood(_ row: [Float], token: Int) -> Double {
        row.withUnsafeBufferPointer { negativeLogLikelihood($0, token: token) }
    }
    /// `klDivergence` of two arrays.
    public static func klDivergence(reference: [Float], model: [Float]) -> Double {
        reference.withUnsafeBufferPointer { p in model.withUnsafeBufferPointer { q in klDivergence(reference: p, model: q) } }
    }
    /// `argmax` of an array.
    public static func argmax(_ row: [Float]) -> Int { row.withUnsafeBufferPointer { argmax($0) } }
}
