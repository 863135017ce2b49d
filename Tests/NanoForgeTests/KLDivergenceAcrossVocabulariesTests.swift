import Foundation
import Testing
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `kl_divergence` when the model's vocabulary differs from the reference's (a trimmed or
/// renumbered byte-level BPE vocabulary): ids matched by token string (`VocabularyMapping`), the
/// KL over the union with a rest bucket, `same_top` by token string.
@Suite struct KLDivergenceAcrossVocabulariesTests {
    /// Reference tokens a, b, c, d with p = 0.4, 0.3, 0.2, 0.1; the model has b, a, c (in that
    /// order) with q = 0.25, 0.5, 0.25 and lacks d. Rest bucket r = 0.1, so
    /// KL = 0.4 ln(0.4 / (0.9·0.5)) + 0.3 ln(0.3 / (0.9·0.25)) + 0.2 ln(0.2 / (0.9·0.25))
    ///    = −0.0471132 + 0.0863046 − 0.0235566 = 0.0156348 (0.015634800341704225 in Double).
    @Test func aHandComputedRestBucket() throws {
        let mapping = try VocabularyMapping(smaller: ["b", "a", "c"], larger: ["a", "b", "c", "d"], largerRows: 4)
        #expect(mapping.largerIds == [1, 0, 2] && mapping.smallerIds == [1, 0, 2, -1] && !mapping.isIdentity)
        let reference = [0.4, 0.3, 0.2, 0.1].map { Float(log($0)) }, model = [0.25, 0.5, 0.25].map { Float(log($0)) }
        let r = reference.withUnsafeBufferPointer { p in
            model.withUnsafeBufferPointer { q in
                mapping.smallerIds.withUnsafeBufferPointer { ids in
                    LogProbabilities.klDivergence(reference: p, model: q, modelIds: ids, referenceLogSum: LogProbabilities.shiftedLogSum(p),
                                                  modelLogSum: LogProbabilities.shiftedLogSum(q))
                }
            }
        }
        #expect(abs(r.restMass - 0.1) < 1e-7)
        #expect(abs(r.divergence - 0.015634800341704225) < 1e-7, "\(r.divergence)")   // Float logits: ~1e-8 of rounding
        // A token of the model the reference lacks cannot be compared: refused, naming it.
        #expect(throws: VocabularyMapping.MissingToken(id: 1, token: "e")) {
            try VocabularyMapping(smaller: ["a", "e"], larger: ["a", "b"], largerRows: 2)
        }
    }

    // MARK: tiny Llamas

    static func perturbed(_ model: LlamaModel, seed: UInt64) -> LlamaModel {
        var rng = RandomGenerator(seed: seed)
        for (_, p) in model.namedParameters { p.value = p.value + rng.normal(shape: p.shape, std: 0.05) }
        return model
    }

    static func write(_ text: String, _ dir: String) throws -> String {
        let path = dir + "/text.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The same vocabulary under two tokenizer objects: the task's figures are those of the
    /// direct computation, and the mapped computation with the identity mapping gives them too,
    /// bit for bit.
    @Test func equalVocabulariesGiveExactlyTheOldFigures() throws {
        let teacher = LanguageModelDistillationTests.llama(seed: 31)
        let student = Self.perturbed(LanguageModelDistillationTests.llama(seed: 31), seed: 5)
        let order = Array(0..<256)
        try withTemporaryDirectory { dir in
            let path = try LanguageModelDistillationTests.writeText(dir)
            let m = try EvaluationTask.klDivergence(data: path, context: 32).evaluate(
                EvaluatedModel(.llama(student), input: .byteLevelBPE(try LanguageModelDistillationTests.byteTokenizer(order: order))),
                reference: EvaluatedModel(.llama(teacher), input: .byteLevelBPE(try LanguageModelDistillationTests.byteTokenizer(order: order))))
            let tokens = try LanguageModelDistillationTests.byteTokenizer(order: order).encode(try path.contents(), allowSpecial: false)
            let chunks = LanguageModelChunks(tokens: tokens, context: 32, bos: nil)
            let direct = LanguageModelEvaluation.klDivergence(student, reference: teacher, chunks: chunks)
            let identity = try VocabularyMapping(smaller: (0..<256).map(String.init), larger: (0..<256).map(String.init), largerRows: 256)
            #expect(identity.isIdentity)
            let mapped = LanguageModelEvaluation.klDivergence(student, reference: teacher, mapping: identity, chunks: chunks)
            #expect(mapped == direct)
            #expect(m == ["kl_mean": direct.mean, "kl_median": direct.median, "kl_p99": direct.p99, "kl_max": direct.maximum,
                          "same_top": direct.sameTop, "delta_perplexity": direct.deltaPerplexity])
            #expect(direct.mean > 1e-3 && direct.sameTop < 1 && direct.sameTop > 0, "\(direct)")
        }
    }

    /// A model renumbered (reversed byte order, embedding and head rows permuted to match) scores
    /// what it scores unrenumbered, against the same reference.
    @Test func aPermutedVocabularyGivesTheUnpermutedFigures() throws {
        let teacher = LanguageModelDistillationTests.llama(seed: 31)
        let student = Self.perturbed(LanguageModelDistillationTests.llama(seed: 31), seed: 6)
        let permuted = Self.perturbed(LanguageModelDistillationTests.llama(seed: 31), seed: 6)
        let reversed = Array((0..<256).reversed())
        for weight in [permuted.tokenEmbedding.weight] + (permuted.head.map { [$0.weight] } ?? []) {
            let w = weight.value, d = w.shape[1]
            weight.value = Tensor(shape: w.shape, scalars: reversed.flatMap { w.scalars[($0 * d)..<(($0 + 1) * d)] })
        }
        try withTemporaryDirectory { dir in
            let path = try LanguageModelDistillationTests.writeText(dir)
            let bytes = try LanguageModelDistillationTests.byteTokenizer(order: Array(0..<256))
            let reference = EvaluatedModel(.llama(teacher), input: .byteLevelBPE(bytes))
            let task = EvaluationTask.klDivergence(data: path, context: 32)
            let plain = try task.evaluate(EvaluatedModel(.llama(student), input: .byteLevelBPE(bytes)), reference: reference)
            let renumbered = try task.evaluate(EvaluatedModel(.llama(permuted), input: .byteLevelBPE(try LanguageModelDistillationTests.byteTokenizer(order: reversed))),
                                               reference: reference)
            #expect(Set(renumbered.keys) == Set(plain.keys).union(["kl_rest_mass"]) && renumbered["kl_rest_mass"] == 0)
            #expect(renumbered["same_top"] == plain["same_top"])
            for key in ["kl_mean", "kl_median", "kl_p99", "kl_max", "delta_perplexity"] {
                let (a, b) = (plain[key]!, renumbered[key]!)
                #expect(abs(a - b) <= 1e-9 * max(1, abs(a)), "\(key): \(a) vs \(b)")
            }
            #expect(plain["kl_mean"]! > 1e-3)
        }
    }

    /// A trimmed vocabulary against the untrimmed reference, on text with words outside the trim's
    /// corpus (so the reference puts mass on tokens the model lacks): the task's figures are a
    /// brute-force loop's over the union with one rest bucket; the trimmed reference itself
    /// (same weights) scores KL 0.
    @Test func aTrimmedVocabularyAgainstTheUntrimmedReference() throws {
        let full = try ByteLevelBPEVocabularyTrimTests.tokenizer()
        let teacher = ByteLevelBPEVocabularyTrimTests.tinyLlama(vocabulary: full.vocabularySize, tied: false)
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: ByteLevelBPEVocabularyTrimTests.domain)
        func trimmed(_ model: LlamaModel) throws -> EvaluatedModel {
            EvaluatedModel(.llama(model), input: .byteLevelBPE(try trim.apply(to: model, tokenizer: full)))
        }
        let same = try trimmed(ByteLevelBPEVocabularyTrimTests.tinyLlama(vocabulary: full.vocabularySize, tied: false))
        let studentModel = Self.perturbed(ByteLevelBPEVocabularyTrimTests.tinyLlama(vocabulary: full.vocabularySize, tied: false), seed: 9)
        let student = try trimmed(studentModel)
        guard case .byteLevelBPE(let small)? = student.input else { Issue.record("no tokenizer"); return }
        let text = (ByteLevelBPEVocabularyTrimTests.general + "\n" + ByteLevelBPEVocabularyTrimTests.domain.joined(separator: " ")).split(separator: "\n")
            .joined(separator: " the weather in the valley ")
        let reference = EvaluatedModel(.llama(teacher), input: .byteLevelBPE(full))
        try withTemporaryDirectory { dir in
            let path = try Self.write(text, dir)
            let task = EvaluationTask.klDivergence(data: path, context: 32)
            let m = try task.evaluate(student, reference: reference)

            // Brute force: the text as the trimmed tokenizer cuts it, read by both models.
            let tokens = small.encode(text, allowSpecial: false)
            let chunks = LanguageModelChunks(tokens: tokens, context: 32, bos: small.addsBOS ? small.bosID : nil)
            try #require(chunks.sequences.count >= 3)
            let toFull = trim.keptIds   // trimmed id → the reference's id (kept in order)
            let keptSet = Set(toFull)
            var kl: [Double] = [], rest: [Double] = [], agree = 0, keptTop = 0, nll = 0.0, referenceNLL = 0.0
            let (v, vr) = (small.vocabularySize, full.vocabularySize)
            for chunk in chunks.sequences {
                let q = studentModel.logits(chunk).scalars, p = teacher.logits(chunk.map { toFull[$0] }).scalars
                for t in chunks.scoredPositions {
                    let pr = p[(t * vr)..<((t + 1) * vr)].map { exp(Double($0)) }, qr = q[(t * v)..<((t + 1) * v)].map { exp(Double($0)) }
                    let (ps, qs) = (pr.reduce(0, +), qr.reduce(0, +))
                    let lacking = (0..<vr).filter { !keptSet.contains($0) }.reduce(0.0) { $0 + pr[$1] / ps }
                    // Union: the kept tokens, then the rest bucket at mass r in both distributions.
                    var sum = 0.0
                    for (s, f) in toFull.enumerated() {
                        let (pi, qi) = (pr[f] / ps, (1 - lacking) * qr[s] / qs)
                        sum += pi * log(pi / qi)
                    }
                    kl.append(sum)
                    rest.append(lacking)
                    let topS = qr.indices.max { qr[$0] < qr[$1] }!, topF = pr.indices.max { pr[$0] < pr[$1] }!
                    if small.tokens[topS] == full.tokens[topF] { agree += 1 }
                    if keptSet.contains(topF) { keptTop += 1 }
                    nll -= log(qr[chunk[t + 1]] / qs)
                    referenceNLL -= log(pr[toFull[chunk[t + 1]]] / ps)
                }
            }
            let n = Double(kl.count)
            #expect(abs(m["kl_mean"]! - kl.reduce(0, +) / n) < 1e-5 * m["kl_mean"]!, "\(m["kl_mean"]!) vs \(kl.reduce(0, +) / n)")
            #expect(abs(m["kl_max"]! - kl.max()!) < 1e-4 * m["kl_max"]!)
            #expect(abs(m["kl_rest_mass"]! - rest.reduce(0, +) / n) < 1e-6)
            #expect(m["same_top"] == Double(agree) / n)
            #expect(abs(m["delta_perplexity"]! - (exp(nll / n) - exp(referenceNLL / n))) < 1e-4 * exp(nll / n))
            #expect(m["kl_rest_mass"]! > 0.01 && m["kl_mean"]! > 1e-3, "\(m)")

            // The reference trimmed, weights untouched: nothing differs on the shared tokens.
            let itself = try task.evaluate(same, reference: reference)
            #expect(itself["kl_max"]! < 1e-8 && itself["kl_rest_mass"] == m["kl_rest_mass"], "\(itself)")
            // Its top token agrees exactly where the reference's top is a token it kept; its
            // perplexity on the same tokens can only be lower (fewer competitors in the softmax).
            #expect(itself["same_top"] == Double(keptTop) / n && keptTop < kl.count)
            #expect(itself["delta_perplexity"]! <= 1e-9, "\(itself)")

            // The other way round, the model has tokens the reference lacks: refused, naming one.
            let error = #expect(throws: EvaluationError.self) { try task.evaluate(reference, reference: same) }
            #expect(error.map { "\($0)" }?.contains("none for the model's token") == true, "\(String(describing: error))")
        }
    }
}

private extension String {
    /// The text of the file at this path.
    func contents() throws -> String { try String(contentsOfFile: self, encoding: .utf8) }
}
