import Foundation
import NanoModels
import NanoTensor

/// Perplexity and KL divergence of a causal language model over `LanguageModelChunks`, as pure
/// functions of a model and chunks (no files, no tokenizer): llama.cpp's `llama-perplexity`
/// numbers, computed exactly (see `LogProbabilities` for the arithmetic).
public enum LanguageModelEvaluation {
    /// Perplexity with llama.cpp's standard error.
    public struct Perplexity: Equatable, Sendable {
        /// exp(mean NLL) over the scored tokens.
        public var perplexity: Double
        /// llama.cpp's "PPL = x +/- y": perplexity × √(Var(NLL) / (n − 1)), the population
        /// variance of the per-token NLL; 0 when n < 2 or the variance is not positive.
        public var standardError: Double
        /// Mean NLL (nats) over the scored tokens.
        public var meanNegativeLogLikelihood: Double
        /// Tokens scored.
        public var tokens: Int

        /// The statistics of per-token NLLs (nats), at least one.
        public init(negativeLogLikelihoods nll: [Double]) {
            precondition(!nll.isEmpty, "Perplexity: no scored tokens")
            let n = Double(nll.count)
            let mean = nll.reduce(0, +) / n
            let variance = nll.reduce(0) { $0 + $1 * $1 } / n - mean * mean
            perplexity = Foundation.exp(mean)
            standardError = nll.count > 1 && variance > 0 ? (variance / (n - 1)).squareRoot() * perplexity : 0
            meanNegativeLogLikelihood = mean
            tokens = nll.count
        }
    }

    /// KL(reference ‖ model) per scored token and what llama.cpp's `--kl-divergence` summarises.
    public struct KLDivergence: Equatable, Sendable {
        public var mean: Double
        /// The middle value, or the mean of the two middle values for an even count (llama.cpp).
        public var median: Double
        /// The 99th percentile, interpolated linearly between order statistics at 0.99·(n − 1)
        /// (llama.cpp's `percentile`).
        public var p99: Double
        public var maximum: Double
        /// Share of scored tokens where the model's top token is the reference's (ties: the
        /// lowest id), llama.cpp's "Same top p" as a fraction.
        public var sameTop: Double
        /// The model's and the reference's perplexity on the same tokens.
        public var perplexity: Perplexity
        public var referencePerplexity: Perplexity
        /// PPL(model) − PPL(reference), llama.cpp's "Mean PPL(Q)-PPL(base)".
        public var deltaPerplexity: Double { perplexity.perplexity - referencePerplexity.perplexity }
        public var tokens: Int { perplexity.tokens }
        /// Mean over scored tokens of the reference's mass on tokens the model's vocabulary lacks
        /// (the rest bucket of `LogProbabilities.klDivergence(reference:model:modelIds:…)`); 0
        /// when the vocabularies are the same.
        public var restMass: Double = 0

        /// The summary of per-token values: KL divergences, whether the top tokens agree, and
        /// both models' NLLs, one entry per scored token each.
        public init(divergences: [Double], sameTop: [Bool], negativeLogLikelihoods: [Double], referenceNegativeLogLikelihoods: [Double]) {
            precondition(!divergences.isEmpty && [sameTop.count, negativeLogLikelihoods.count, referenceNegativeLogLikelihoods.count]
                .allSatisfy { $0 == divergences.count }, "KLDivergence: per-token arrays empty or of different lengths")
            let sorted = divergences.sorted()
            let n = sorted.count
            mean = divergences.reduce(0, +) / Double(n)
            median = n % 2 == 0 ? 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) : sorted[n / 2]
            p99 = Self.percentile(sorted, 0.99)
            maximum = sorted[n - 1]
            self.sameTop = Double(sameTop.filter { $0 }.count) / Double(n)
            perplexity = Perplexity(negativeLogLikelihoods: negativeLogLikelihoods)
            referencePerplexity = Perplexity(negativeLogLikelihoods: referenceNegativeLogLikelihoods)
        }

        /// llama.cpp's percentile of sorted values: position f·(n − 1), linear between neighbours.
        public static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
            precondition(!sorted.isEmpty, "percentile: no values")
            if fraction <= 0 { return sorted[0] }
            if fraction >= 1 { return sorted[sorted.count - 1] }
            let p = fraction * Double(sorted.count - 1)
            let i = Int(p), t = p - Double(i)
            return (1 - t) * sorted[i] + t * sorted[min(i + 1, sorted.count - 1)]
        }
    }

    /// The model's perplexity over the chunks' scored tokens (at least one chunk).
    public static func perplexity(_ model: any CausalLanguageModel, chunks: LanguageModelChunks, batchSize: Int = 32) -> Perplexity {
        var nll: [Double] = []
        nll.reserveCapacity(chunks.scoredTokenCount)
        forEachScoredRow(model, chunks: chunks, batchSize: batchSize) { row, target in
            nll.append(LogProbabilities.negativeLogLikelihood(row, token: target))
        }
        return Perplexity(negativeLogLikelihoods: nll)
    }

    /// KL(reference ‖ model) and top-token agreement over the chunks' scored tokens, with both
    /// perplexities. The two models must share the vocabulary size (checked by the caller).
    public static func klDivergence(_ model: any CausalLanguageModel, reference: any CausalLanguageModel, chunks: LanguageModelChunks,
                                    batchSize: Int = 32) -> KLDivergence {
        precondition(model.vocabularySize == reference.vocabularySize, "klDivergence: vocabularies of \(model.vocabularySize) and \(reference.vocabularySize)")
        return klDivergence(model, chunks: chunks, batchSize: batchSize) { _, group in reference.logits(batch: group) }
    }

    /// The reference's logits of the chunks, one tensor per batch as `klDivergence` groups them:
    /// computed once, for many `klDivergence(_:referenceLogits:chunks:batchSize:)` calls against
    /// the same reference (a mixed-precision stage's sensitivities).
    public static func logitBatches(_ reference: any CausalLanguageModel, chunks: LanguageModelChunks, batchSize: Int = 32) -> [Tensor] {
        batches(chunks, vocabularySize: reference.vocabularySize, batchSize: batchSize).map { reference.logits(batch: $0) }
    }

    /// `klDivergence` against reference logits computed before (`logitBatches` of the same chunks
    /// and batch size).
    public static func klDivergence(_ model: any CausalLanguageModel, referenceLogits: [Tensor], chunks: LanguageModelChunks,
                                    batchSize: Int = 32) -> KLDivergence {
        klDivergence(model, chunks: chunks, batchSize: batchSize) { index, _ in referenceLogits[index] }
    }

    /// KL(reference ‖ model), top-token agreement and both perplexities when the model's
    /// vocabulary differs from the reference's but is contained in it (a trimmed or renumbered
    /// vocabulary): `chunks` hold the model's token ids (the text as the model's tokenizer cuts
    /// it), and the reference reads the same tokens through `mapping` (model → reference, by token
    /// string). Per scored token: the KL over the union with the reference's mass on tokens the
    /// model lacks in one rest bucket (`LogProbabilities.klDivergence(reference:model:modelIds:…)`),
    /// `same_top` when the model's top token is the reference's top token (the same string), and
    /// each model's NLL of the next token. With the identity mapping, exactly the figures of
    /// `klDivergence(_:reference:chunks:batchSize:)`.
    public static func klDivergence(_ model: any CausalLanguageModel, reference: any CausalLanguageModel, mapping: VocabularyMapping,
                                    chunks: LanguageModelChunks, batchSize: Int = 32) -> KLDivergence {
        precondition(mapping.largerIds.count == model.vocabularySize && mapping.smallerIds.count == reference.vocabularySize,
                     "klDivergence: a mapping of \(mapping.largerIds.count) → \(mapping.smallerIds.count) ids for vocabularies of \(model.vocabularySize) and \(reference.vocabularySize)")
        return klDivergence(model, chunks: chunks, batchSize: batchSize, referenceVocabularySize: reference.vocabularySize, mapping: mapping) { _, group in
            reference.logits(batch: group.map { $0.map { mapping.largerIds[$0] } })
        }
    }

    /// The one KL loop: `reference(batch index, batch)` gives the reference's logits of a batch
    /// (of the model's ids; the reference maps them itself when `mapping` is given).
    static func klDivergence(_ model: any CausalLanguageModel, chunks: LanguageModelChunks, batchSize: Int,
                             referenceVocabularySize: Int? = nil, mapping: VocabularyMapping? = nil,
                             reference: (Int, [[Int]]) -> Tensor) -> KLDivergence {
        var kl: [Double] = [], same: [Bool] = [], nll: [Double] = [], referenceNLL: [Double] = []
        var rest = 0.0
        let v = model.vocabularySize, vr = referenceVocabularySize ?? v
        let modelIds = mapping?.smallerIds ?? [], referenceIds = mapping?.largerIds ?? []
        for (index, group) in batches(chunks, vocabularySize: max(v, vr), batchSize: batchSize).enumerated() {
            // Both models see the same batches, so a model compared with itself computes the same
            // logits bit for bit and every divergence is exactly 0.
            let q = model.logits(batch: group), p = reference(index, group)
            precondition(q.shape == [group.count, chunks.context, v] && p.shape == [group.count, chunks.context, vr],
                         "logits of shapes \(q.shape) and \(p.shape), expected \([group.count, chunks.context, v]) and \([group.count, chunks.context, vr])")
            q.scalars.withUnsafeBufferPointer { qs in
                p.scalars.withUnsafeBufferPointer { ps in
                    modelIds.withUnsafeBufferPointer { ids in
                        for (b, sequence) in group.enumerated() {
                            for t in chunks.scoredPositions {
                                let qOffset = (b * chunks.context + t) * v, pOffset = (b * chunks.context + t) * vr
                                let qRow = UnsafeBufferPointer(rebasing: qs[qOffset..<(qOffset + v)])
                                let pRow = UnsafeBufferPointer(rebasing: ps[pOffset..<(pOffset + vr)])
                                let zq = LogProbabilities.shiftedLogSum(qRow), zp = LogProbabilities.shiftedLogSum(pRow)
                                let next = sequence[t + 1]
                                nll.append(zq.logSum - (Double(qRow[next]) - zq.max))
                                if mapping == nil {
                                    kl.append(LogProbabilities.klDivergence(reference: pRow, model: qRow, referenceLogSum: zp, modelLogSum: zq))
                                    same.append(LogProbabilities.argmax(qRow) == LogProbabilities.argmax(pRow))
                                    referenceNLL.append(zp.logSum - (Double(pRow[next]) - zp.max))
                                } else {
                                    let r = LogProbabilities.klDivergence(reference: pRow, model: qRow, modelIds: ids, referenceLogSum: zp, modelLogSum: zq)
                                    kl.append(r.divergence)
                                    rest += r.restMass
                                    same.append(referenceIds[LogProbabilities.argmax(qRow)] == LogProbabilities.argmax(pRow))
                                    referenceNLL.append(zp.logSum - (Double(pRow[referenceIds[next]]) - zp.max))
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = KLDivergence(divergences: kl, sameTop: same, negativeLogLikelihoods: nll, referenceNegativeLogLikelihoods: referenceNLL)
        result.restMass = rest / Double(kl.count)
        return result
    }

    /// Calls `body(logits row, next token)` for every scored position of every chunk, in order.
    static func forEachScoredRow(_ model: any CausalLanguageModel, chunks: LanguageModelChunks, batchSize: Int,
                                 _ body: (UnsafeBufferPointer<Float>, Int) -> Void) {
        let v = model.vocabularySize
        for group in batches(chunks, vocabularySize: v, batchSize: batchSize) {
            let logits = model.logits(batch: group)
            precondition(logits.shape == [group.count, chunks.context, v], "logits of shape \(logits.shape), expected \([group.count, chunks.context, v])")
            logits.scalars.withUnsafeBufferPointer { all in
                for (b, sequence) in group.enumerated() {
                    for t in chunks.scoredPositions {
                        let offset = (b * chunks.context + t) * v
                        body(UnsafeBufferPointer(rebasing: all[offset..<(offset + v)]), sequence[t + 1])
                    }
                }
            }
        }
    }

    /// Logits held at once, in Floats: a batch of chunks stays under this (64 MB) unless a single
    /// chunk is larger (512 tokens × a 49,152-token vocabulary is 100 MB, evaluated alone).
    static let logitBudget = 16 << 20

    /// The chunks in groups of at most `batchSize`, fewer when their logits would pass `logitBudget`.
    static func batches(_ chunks: LanguageModelChunks, vocabularySize: Int, batchSize: Int) -> [[[Int]]] {
        let perChunk = max(1, chunks.context * vocabularySize)
        let size = max(1, min(batchSize, logitBudget / perChunk))
        return stride(from: 0, to: chunks.sequences.count, by: size).map {
            Array(chunks.sequences[$0..<min($0 + size, chunks.sequences.count)])
        }
    }
}
