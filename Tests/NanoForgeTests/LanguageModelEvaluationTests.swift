import Foundation
import Testing
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// Language-model evaluation with llama.cpp's `llama-perplexity` conventions: the log-probability
/// numerics against hand-computed values and a brute-force reference, the chunking, the
/// statistics, and the tasks on character decoders.
struct LanguageModelEvaluationTests {
    // MARK: Numerics by hand

    @Test func logSoftmaxAndNegativeLogLikelihoodByHand() {
        #expect(LogProbabilities.logSoftmax([0, 0]).allSatisfy { abs($0 + log(2.0)) < 1e-15 })
        // log Σ exp([1, 2, 3]) = log(e + e² + e³)
        let z = log(exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(LogProbabilities.logNormalizer([1, 2, 3]) - z) < 1e-14)
        #expect(abs(LogProbabilities.negativeLogLikelihood([1, 2, 3], token: 0) - (z - 1)) < 1e-14)
        // The max shift: logits of 1000 overflow a plain exp, not this.
        #expect(abs(LogProbabilities.negativeLogLikelihood([1000, 1000], token: 1) - log(2.0)) < 1e-15)
        #expect(abs(LogProbabilities.negativeLogLikelihood([-1000, 0], token: 0) - 1000) < 1e-9)
    }

    @Test func klDivergenceAndArgmaxByHand() {
        // P = (½, ½), Q = softmax(log 3, 0) = (¾, ¼): KL = ½ log(½ / ¾) + ½ log(½ / ¼) = ½ log(4/3).
        let kl = LogProbabilities.klDivergence(reference: [0, 0], model: [Float(log(3.0)), 0])
        #expect(abs(kl - 0.5 * log(4.0 / 3)) < 1e-7)   // log 3 is rounded to Float in the logits
        // The other orientation differs: KL(Q ‖ P) = ¾ log(3/2) + ¼ log(1/2).
        let reverse = LogProbabilities.klDivergence(reference: [Float(log(3.0)), 0], model: [0, 0])
        #expect(abs(reverse - (0.75 * log(1.5) + 0.25 * log(0.5))) < 1e-7)
        #expect(LogProbabilities.klDivergence(reference: [0.3, -2, 7, 1e-3], model: [0.3, -2, 7, 1e-3]) == 0)
        // Shifting all logits changes no probability.
        #expect(abs(LogProbabilities.klDivergence(reference: [1, 2, 3], model: [101, 102, 103])) < 1e-12)
        #expect(LogProbabilities.argmax([1, 3, 3, 2]) == 1)   // ties: the lowest id
        #expect(LogProbabilities.argmax([-5]) == 0)
    }

    /// Against plain softmax probabilities in Double (no max shift: the logits are small).
    @Test(arguments: [1, 2, 7, 37, 1000])
    func numericsMatchABruteForceReference(vocabulary: Int) {
        var rng = RandomGenerator(seed: UInt64(vocabulary))
        for _ in 0..<5 {
            let p = rng.normal(shape: [vocabulary]).scalars.map { $0 * 3 }, q = rng.normal(shape: [vocabulary]).scalars.map { $0 * 3 }
            func probabilities(_ x: [Float]) -> [Double] {
                let e = x.map { exp(Double($0)) }, s = e.reduce(0, +)
                return e.map { $0 / s }
            }
            let pp = probabilities(p), qq = probabilities(q)
            let logSoftmax = LogProbabilities.logSoftmax(p)
            #expect(zip(logSoftmax, pp).allSatisfy { abs($0 - log($1)) < 1e-12 })
            let token = vocabulary / 2
            #expect(abs(LogProbabilities.negativeLogLikelihood(q, token: token) + log(qq[token])) < 1e-12)
            let kl = zip(pp, qq).reduce(0.0) { $0 + $1.0 * log($1.0 / $1.1) }
            #expect(abs(LogProbabilities.klDivergence(reference: p, model: q) - kl) < 1e-12 * max(1, kl))
            #expect(LogProbabilities.klDivergence(reference: p, model: q) >= 0)
            #expect(LogProbabilities.argmax(p) == pp.indices.max { pp[$0] < pp[$1] || (pp[$0] == pp[$1] && $0 > $1) })
        }
    }

    // MARK: Chunks

    @Test func chunksFollowLlamaCpp() {
        // No BOS: 10 tokens → 2 chunks of 4, the tail of 2 dropped; positions 2 score token 3.
        let plain = LanguageModelChunks(tokens: Array(0..<10), context: 4, bos: nil)
        #expect(plain.sequences == [[0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(plain.scoredPositions == 2..<3 && plain.scoredTokenCount == 2)
        // BOS 99 is prepended to the text, and replaces every chunk's first token.
        let bos = LanguageModelChunks(tokens: Array(0..<10), context: 4, bos: 99)
        #expect(bos.sequences == [[99, 0, 1, 2], [99, 4, 5, 6]])
        #expect(LanguageModelChunks(tokens: Array(0..<10), context: 4, bos: 99, maximumChunks: 1).sequences == [[99, 0, 1, 2]])
        #expect(LanguageModelChunks(tokens: Array(0..<3), context: 4, bos: nil).sequences.isEmpty)
        // n_ctx = 512 scores 255 tokens a chunk (first = 256, positions 256…510).
        #expect(LanguageModelChunks(tokens: Array(repeating: 1, count: 1024), context: 512, bos: 0).scoredPositions == 256..<511)
        #expect(LanguageModelChunks(tokens: Array(0..<7), context: 7, bos: nil).scoredPositions == 3..<6)
    }

    // MARK: Statistics

    @Test func perplexityAndItsStandardErrorByHand() {
        let r = LanguageModelEvaluation.Perplexity(negativeLogLikelihoods: [1, 2, 3])
        #expect(abs(r.perplexity - exp(2.0)) < 1e-12)
        // Var = (1 + 4 + 9)/3 − 2² = 2/3; error = √(Var / (n − 1)) · PPL = √(1/3) e².
        #expect(abs(r.standardError - (1.0 / 3).squareRoot() * exp(2.0)) < 1e-12)
        #expect(r.tokens == 3 && r.meanNegativeLogLikelihood == 2)
        #expect(LanguageModelEvaluation.Perplexity(negativeLogLikelihoods: [0.5]).standardError == 0)
        #expect(LanguageModelEvaluation.Perplexity(negativeLogLikelihoods: [0.5, 0.5]).standardError == 0)
    }

    @Test func klSummaryByHand() {
        let r = LanguageModelEvaluation.KLDivergence(divergences: [0.4, 0.1, 0.3, 0.2], sameTop: [true, false, true, true],
                                                     negativeLogLikelihoods: [1, 1, 1, 1], referenceNegativeLogLikelihoods: [0.5, 0.5, 0.5, 0.5])
        #expect(abs(r.mean - 0.25) < 1e-15)
        #expect(abs(r.median - 0.25) < 1e-15)              // even count: mean of 0.2 and 0.3
        #expect(abs(r.p99 - (0.03 * 0.3 + 0.97 * 0.4)) < 1e-15)   // position 0.99 · 3 = 2.97
        #expect(r.maximum == 0.4 && r.sameTop == 0.75)
        #expect(abs(r.deltaPerplexity - (exp(1.0) - exp(0.5))) < 1e-12)
        let odd = LanguageModelEvaluation.KLDivergence(divergences: [3, 1, 2], sameTop: [true, true, true],
                                                       negativeLogLikelihoods: [1, 1, 1], referenceNegativeLogLikelihoods: [1, 1, 1])
        #expect(odd.median == 2 && odd.sameTop == 1 && odd.deltaPerplexity == 0)
        #expect(LanguageModelEvaluation.KLDivergence.percentile([1, 2, 3, 4, 5], 0.5) == 3)
        #expect(LanguageModelEvaluation.KLDivergence.percentile([1, 2], 0.99) == 1.99)
    }

    // MARK: Models

    /// Logits of position t are `table[tokens[t]]`; every sequence it is given is recorded.
    final class BigramModel: CausalLanguageModel {
        let table: [[Float]]
        let contextLength: Int
        var seen: [[Int]] = []
        init(table: [[Float]], contextLength: Int) { self.table = table; self.contextLength = contextLength }
        var vocabularySize: Int { table[0].count }
        func logits(_ tokens: [Int]) -> Tensor {
            seen.append(tokens)
            return Tensor(shape: [tokens.count, vocabularySize], scalars: tokens.flatMap { table[$0] })
        }
    }

    @Test func perplexityOverChunksMatchesABruteForceLoop() {
        var rng = RandomGenerator(seed: 11)
        let v = 6, table = (0..<v).map { _ in rng.normal(shape: [v]).scalars.map { $0 * 2 } }
        let model = BigramModel(table: table, contextLength: 16)
        let tokens = (0..<100).map { ($0 * 7 + $0 / 3) % (v - 1) }   // id 5 is BOS only
        let chunks = LanguageModelChunks(tokens: tokens, context: 9, bos: 5)
        let result = LanguageModelEvaluation.perplexity(model, chunks: chunks, batchSize: 4)
        // By hand: [BOS] + tokens in windows of 9, positions 4…7 predicting 5…8.
        let all = [5] + tokens
        var nll: [Double] = []
        for i in 0..<(all.count / 9) {
            for j in 4..<8 {
                let row = table[all[i * 9 + j]].map { exp(Double($0)) }
                nll.append(-log(row[all[i * 9 + j + 1]] / row.reduce(0, +)))
            }
        }
        #expect(result.tokens == nll.count && nll.count == 11 * 4)
        #expect(abs(result.perplexity - exp(nll.reduce(0, +) / Double(nll.count))) < 1e-12)
        // The model saw each chunk once, BOS first.
        #expect(model.seen.count == 11 && model.seen.allSatisfy { $0.count == 9 && $0[0] == 5 })
        #expect(model.seen[1] == [5] + Array(all[10..<18]))
    }

    /// A character decoder whose logits carry signal: random weights, the output head scaled up.
    static func peakedDecoder(vocabulary: Int, seed: UInt64 = 5, contextLength: Int = 16) -> GPTDecoder {
        var rng = RandomGenerator(seed: seed)
        let d = GPTDecoder(.init(vocabularySize: vocabulary, contextLength: contextLength, width: 16, layers: 1, heads: 2), rng: &rng)
        d.head.weight.value = Tensor(shape: d.head.weight.shape, scalars: d.head.weight.value.scalars.map { $0 * 40 })
        return d
    }

    /// The head rounded to 7 levels each side of zero per output row, as int4 RTN would.
    static func roughCopy(of vocabulary: Int, seed: UInt64 = 5, contextLength: Int = 16) -> GPTDecoder {
        let d = peakedDecoder(vocabulary: vocabulary, seed: seed, contextLength: contextLength)
        let w = d.head.weight.value, columns = w.shape[1]
        var s = w.scalars
        for r in 0..<w.shape[0] {
            let scale = (0..<columns).map { abs(s[r * columns + $0]) }.max()! / 7
            for c in 0..<columns { s[r * columns + c] = (s[r * columns + c] / scale).rounded() * scale }
        }
        d.head.weight.value = Tensor(shape: w.shape, scalars: s)
        return d
    }

    @Test func decoderLogitsAreCausalAndBatchConsistent() {
        let decoder = Self.peakedDecoder(vocabulary: 9)
        let a = [1, 4, 2, 8, 0, 3, 3, 7], b = [5, 5, 1, 0, 2, 6, 4, 8]
        let full = decoder.logits(a)
        #expect(full.shape == [8, 9])
        // Row t depends on tokens 0…t only.
        let prefix = decoder.logits(Array(a.prefix(5)))
        #expect(isClose(prefix, Tensor(shape: [5, 9], scalars: Array(full.scalars.prefix(45))), rtol: 1e-5, atol: 1e-5))
        let batch = decoder.logits(batch: [a, b])
        #expect(batch.shape == [2, 8, 9])
        #expect(isClose(Tensor(shape: [8, 9], scalars: Array(batch.scalars.suffix(72))), decoder.logits(b), rtol: 1e-5, atol: 1e-5))
    }

    @Test func klOfADecoderAgainstItselfIsZeroAndAgainstARoughCopyMatchesBruteForce() {
        let v = 12
        let decoder = Self.peakedDecoder(vocabulary: v), rough = Self.roughCopy(of: v)
        let tokens = (0..<400).map { ($0 * 5 + $0 / 7) % v }
        let chunks = LanguageModelChunks(tokens: tokens, context: 16, bos: nil)
        let same = LanguageModelEvaluation.klDivergence(decoder, reference: decoder, chunks: chunks, batchSize: 8)
        #expect(same.mean == 0 && same.maximum == 0 && same.median == 0 && same.p99 == 0)
        #expect(same.sameTop == 1 && same.deltaPerplexity == 0 && same.tokens == 25 * 7)
        // Another instance with the same weights: the same.
        let twin = LanguageModelEvaluation.klDivergence(Self.peakedDecoder(vocabulary: v), reference: decoder, chunks: chunks)
        #expect(twin.mean == 0 && twin.sameTop == 1)

        let r = LanguageModelEvaluation.klDivergence(rough, reference: decoder, chunks: chunks, batchSize: 8)
        // Brute force: each chunk alone, plain softmax probabilities in Double.
        var kl: [Double] = [], agree = 0, nll = 0.0, referenceNLL = 0.0
        for chunk in chunks.sequences {
            let p = decoder.logits(chunk).scalars, q = rough.logits(chunk).scalars
            for t in 8..<15 {
                let pr = p[(t * v)..<((t + 1) * v)].map { exp(Double($0)) }, qr = q[(t * v)..<((t + 1) * v)].map { exp(Double($0)) }
                let ps = pr.reduce(0, +), qs = qr.reduce(0, +)
                kl.append(zip(pr, qr).reduce(0.0) { $0 + $1.0 / ps * log(($1.0 / ps) / ($1.1 / qs)) })
                if pr.indices.max(by: { pr[$0] < pr[$1] }) == qr.indices.max(by: { qr[$0] < qr[$1] }) { agree += 1 }
                nll -= log(qr[chunk[t + 1]] / qs)
                referenceNLL -= log(pr[chunk[t + 1]] / ps)
            }
        }
        let n = Double(kl.count)
        #expect(abs(r.mean - kl.reduce(0, +) / n) < 1e-5 * r.mean)
        #expect(abs(r.maximum - kl.max()!) < 1e-4 * r.maximum)
        #expect(abs(r.sameTop - Double(agree) / n) < 1e-12)
        #expect(abs(r.deltaPerplexity - (exp(nll / n) - exp(referenceNLL / n))) < 1e-4)
        #expect(r.mean > 1e-3 && r.sameTop < 1 && r.median <= r.p99 && r.p99 <= r.maximum)
        print("rough head vs decoder: KL mean \(r.mean), median \(r.median), p99 \(r.p99), max \(r.maximum), same top \(r.sameTop), Δppl \(r.deltaPerplexity)")
    }

    // MARK: Tasks

    static func text(vocabulary: CharacterVocabulary, count: Int) -> String {
        vocabulary.decode((0..<count).map { ($0 * 7 + $0 / 5 + $0 / 11) % vocabulary.count })
    }

    @Test func perplexityTaskWithAContextUsesLlamaCppChunks() throws {
        let (uniform, vocabulary) = EvaluationTaskTests.uniformDecoder()
        let text = Self.text(vocabulary: vocabulary, count: 100)
        try withTemporaryDirectory { dir in
            let path = dir + "/text.txt"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            // Uniform over 10 characters: perplexity 10, every NLL equal so the error is 0.
            let m = try EvaluationTask.perplexity(data: path, context: 8).evaluate(.decoder(uniform, vocabulary))
            #expect(abs(m["perplexity"]! - 10) < 1e-4 && m["perplexity_stderr"]! == 0)

            let decoder = Self.peakedDecoder(vocabulary: vocabulary.count, contextLength: 8)
            let chunked = try EvaluationTask.perplexity(data: path, limit: 5, context: 6).evaluate(.decoder(decoder, vocabulary))
            let direct = LanguageModelEvaluation.perplexity(decoder, chunks: LanguageModelChunks(tokens: vocabulary.encode(text), context: 6, bos: nil, maximumChunks: 5))
            #expect(direct.tokens == 5 * 2 && chunked["perplexity"] == direct.perplexity && chunked["perplexity_stderr"] == direct.standardError)
            // One byte a character here, so per byte is per token.
            #expect(vocabulary.characters.utf8.count == vocabulary.count)
            #expect(abs(chunked["nll_per_byte"]! - direct.meanNegativeLogLikelihood) < 1e-12)
            // Without a context, the character windows of before: another figure, no error reported.
            let windows = try EvaluationTask.perplexity(data: path).evaluate(.decoder(decoder, vocabulary))
            #expect(windows["perplexity"] != chunked["perplexity"] && windows["perplexity_stderr"] == nil)
            // The default context is the model's (8 < 512): 12 chunks of 8.
            let defaulted = try EvaluationTask.klDivergence(data: path).evaluate(.decoder(decoder, vocabulary), reference: .decoder(decoder, vocabulary))
            #expect(defaulted == ["kl_mean": 0, "kl_median": 0, "kl_p99": 0, "kl_max": 0, "same_top": 1, "delta_perplexity": 0])
        }
    }

    /// `nll_per_byte` with a byte-level BPE tokenizer whose tokens span several bytes: the scored
    /// tokens' NLL over the bytes of their own text, counted here by decoding each target.
    @Test func nllPerByteCountsTheScoredTokensBytes() throws {
        let tokenizer = try ByteLevelBPEVocabularyTrimTests.tokenizer()
        let model = ByteLevelBPEVocabularyTrimTests.tinyLlama(vocabulary: tokenizer.vocabularySize, tied: true)
        let text = ByteLevelBPEVocabularyTrimTests.general
        try withTemporaryDirectory { dir in
            let path = dir + "/text.txt"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let m = try EvaluationTask.perplexity(data: path, context: 16).evaluate(EvaluatedModel(.llama(model), input: .byteLevelBPE(tokenizer)))
            let tokens = tokenizer.encode(text, allowSpecial: false)
            let chunks = LanguageModelChunks(tokens: tokens, context: 16, bos: tokenizer.addsBOS ? tokenizer.bosID : nil)
            let direct = LanguageModelEvaluation.perplexity(model, chunks: chunks)
            let bytes = chunks.sequences.flatMap { chunk in chunks.scoredPositions.map { tokenizer.decode([chunk[$0 + 1]]).utf8.count } }.reduce(0, +)
            #expect(bytes > direct.tokens, "multi-byte tokens")
            let expected = direct.meanNegativeLogLikelihood * Double(direct.tokens) / Double(bytes)
            #expect(abs(m["nll_per_byte"]! - expected) < 1e-12 * max(1, expected), "\(m) vs \(expected)")
        }
    }

    @Test func languageModelTasksRefuseBadInput() throws {
        let (decoder, vocabulary) = EvaluationTaskTests.uniformDecoder()
        let model = EvaluatedModel.decoder(decoder, vocabulary)
        try withTemporaryDirectory { dir in
            let path = dir + "/text.txt"
            try "abcdefgh abc".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: EvaluationError.referenceRequired(task: "kl_divergence")) {
                try EvaluationTask.klDivergence(data: path).evaluate(model)
            }
            #expect(throws: EvaluationError.unsupported(task: "perplexity", model: "decoder",
                                                         hint: "context 9 must lie in 3…8 (the model's context length; a chunk scores its second half)")) {
                try EvaluationTask.perplexity(data: path, context: 9).evaluate(model)
            }
            // 12 characters make one chunk of 8 but none of 16 (a wider model).
            #expect(try EvaluationTask.perplexity(data: path, context: 8).evaluate(model)["perplexity"] != nil)
            var rng = RandomGenerator(seed: 1)
            let wide = GPTDecoder(.init(vocabularySize: vocabulary.count, contextLength: 16, width: 8, layers: 1, heads: 2), rng: &rng)
            #expect(throws: EvaluationError.dataMismatch(file: path, line: nil, expected: "at least one chunk of 16 tokens (the context)", found: "12 tokens")) {
                try EvaluationTask.perplexity(data: path, context: 16).evaluate(.decoder(wide, vocabulary))
            }
            // Another vocabulary size is refused, as is a missing file.
            let other = GPTDecoder(.init(vocabularySize: vocabulary.count + 1, contextLength: 8, width: 8, layers: 1, heads: 2), rng: &rng)
            #expect(throws: EvaluationError.referenceMismatch(task: "kl_divergence", expected: "a vocabulary of 10 tokens", found: "11")) {
                try EvaluationTask.klDivergence(data: path).evaluate(.decoder(other, vocabulary), reference: model)
            }
            #expect(throws: DataError.unreadable(file: dir + "/none.txt", reason: "no such file")) {
                try EvaluationTask.perplexity(data: dir + "/none.txt", context: 8).evaluate(model)
            }
        }
    }

    @Test func metricDirections() {
        #expect(MetricKey.sameTop.higherIsBetter && MetricKey.cosineMean.higherIsBetter)
        #expect(![MetricKey.perplexity, .perplexityStandardError, .nllPerByte, .klMean, .klMedian, .klP99, .klMax, .deltaPerplexity].contains { $0.higherIsBetter })
        #expect(EvaluationTask.klDivergence(data: "x").needsReference && !EvaluationTask.perplexity(data: "x").needsReference)
        #expect(EvaluationTask.klDivergence(data: "x").name == "kl_divergence")
    }
}
