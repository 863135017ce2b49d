import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import TestSupport

/// all-MiniLM-L6-v2 (fp32) on the real evaluation data: the baseline figures every compressed
/// MiniLM is compared with. Thresholds sit just under the measured values (measured in release
/// builds on the shared 2-core machines; run with `swift test -c release`: about 2½ minutes, most
/// of it encoding the 4,000 Bible verses — the recipe's `limit: 2000`, kept so these figures are the
/// ones a compressed run's report compares with).
@Suite(.serialized) struct EvaluationTaskMiniLMTests {
    static func loadMiniLM() throws -> EvaluatedModel {
        .sentenceEncoder(try SentenceEncoder.load(path: try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")))
    }

    @Test func fidelityWithItselfIsOne() throws {
        let model = try Self.loadMiniLM()
        let data = try RepositoryPaths.requireCached("data/pydoc-sentences.txt")
        let m = try EvaluationTask.fidelity(data: data, limit: 100).evaluate(model, reference: model)
        print("MiniLM fidelity with itself (100 pydoc sentences): \(m)")
        #expect(abs((m["cosine_mean"] ?? 0) - 1) < 1e-6)
        #expect(abs((m["cosine_min"] ?? 0) - 1) < 1e-6)
    }

    @Test func bibleRetrieval() throws {
        let model = try Self.loadMiniLM()
        let data = try RepositoryPaths.requireCached("data/bible-kjv-web.tsv")
        let m = try EvaluationTask.retrieval(data: data, limit: 2000).evaluate(model)
        print("MiniLM retrieval KJV → WEB (first 2000 pairs): \(m)")
        #expect((m["retrieval_top1"] ?? 0) > 0.98)    // measured 0.9835 (1967 of 2000 at rank 1)
        #expect((m["retrieval_mrr"] ?? 0) > 0.985)    // measured 0.98978
    }

    @Test func weatherClassification() throws {
        let model = try Self.loadMiniLM()
        let train = try RepositoryPaths.requireCached("data/weather-train.tsv")
        let test = try RepositoryPaths.requireCached("data/weather-test.tsv")
        let m = try EvaluationTask.classification(train: train, test: test).evaluate(model)
        print("MiniLM weather intents, nearest centroid: \(m)")
        #expect((m["accuracy"] ?? 0) > 0.82)          // measured 0.82927 (578 of 697 test utterances)
        #expect((m["macro_f1"] ?? 0) > 0.83)          // measured 0.83726
    }
}
