import Foundation

/// Log-probabilities of one row of next-token logits, and what language-model evaluation reads
/// from them: the negative log-likelihood of a token, the KL divergence between two rows, the top
/// token. Pure functions of a row, each checked against hand-computed values in
/// `LanguageModelEvaluationTests`.
///
/// Why Double: a vocabulary of 50,000 logits sums 50,000 exponentials, and the KL divergence of a
/// well-quantized model is ~1e-3 nats, a difference of two numbers near the row's entropy. The
/// row's maximum is subtracted in Float (exact to the Float rounding of the logits themselves,
/// as in llama.cpp's `log_softmax`), then every exponential and sum is taken in Double.
public enum LogProbabilities {
    /// log Σᵢ exp(xᵢ), computed as max + log Σᵢ exp(xᵢ − max) so no exponential overflows.
    /// An empty row has no normaliser.
    public static func logNormalizer(_ row: UnsafeBufferPointer<Float>) -> Double {
        precondition(!row.isEmpty, "logNormalizer: empty row")
        var m = row[0]
        for x in row where x > m { m = x }
        var sum = 0.0
        for x in row { sum += Foundation.exp(Double(x - m)) }
        return Double(m) + Foundation.log(sum)
    }

    /// log softmax(row), in Double.
    public static func logSoftmax(_ row: UnsafeBufferPointer<Float>) -> [Double] {
        let z = logNormalizer(row)
        return row.map { Double($0) - z }
    }

    /// −log p(token) under softmax(row): the token's negative log-likelihood in nats.
    public static func negativeLogLikelihood(_ row: UnsafeBufferPointer<Float>, token: Int) -> Double {
        precondition(token >= 0 && token < row.count, "negativeLogLikelihood: token \(token) outside 0..<\(row.count)")
        return logNormalizer(row) - Double(row[token])
    }

    /// KL(P ‖ Q) = Σᵢ pᵢ (log pᵢ − log qᵢ) in nats, with P = softmax(reference) and
    /// Q = softmax(model): how much information is lost when the model stands in for the
    /// reference (llama.cpp's `--kl-divergence` orientation). Terms whose pᵢ underflows to 0 add
    /// nothing (the limit of p log p). ≥ 0 up to rounding; exactly 0 for identical rows.
    public static func klDivergence(reference: UnsafeBufferPointer<Float>, model: UnsafeBufferPointer<Float>) -> Double {
        klDivergence(reference: reference, model: model, referenceNormalizer: logNormalizer(reference), modelNormalizer: logNormalizer(model))
    }

    /// `klDivergence` with both rows' `logNormalizer` already computed.
    static func klDivergence(reference: UnsafeBufferPointer<Float>, model: UnsafeBufferPointer<Float>,
                             referenceNormalizer zp: Double, modelNormalizer zq: Double) -> Double {
        precondition(reference.count == model.count, "klDivergence: rows of \(reference.count) and \(model.count) logits")
        var sum = 0.0
        for i in 0..<reference.count {
            let logP = Double(reference[i]) - zp
            let p = Foundation.exp(logP)
            if p > 0 { sum += p * (logP - (Double(model[i]) - zq)) }
        }
        return sum
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
