import Foundation
import Testing
import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// Tasks on tiny random models, where the expected metrics follow from construction.
@Suite struct EvaluationTaskTests {
    static func tinyEncoder(seed: UInt64 = 1) throws -> SentenceEncoder {
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "dog", "sat", "ran", "big", "red", "mat"]
        var rng = RandomGenerator(seed: seed)
        let bert = BertEncoder(.init(vocabularySize: vocabulary.count, width: 16, layers: 1, heads: 2, intermediateWidth: 32,
                                     maxPositions: 32), rng: &rng)
        return SentenceEncoder(tokenizer: try WordPieceTokenizer(vocabulary: vocabulary), encoder: bert)
    }

    static let sentences = ["the cat sat", "the dog ran", "big red dog", "the mat", "cat ran", "red cat sat on the mat"]

    func withFile<T>(_ text: String, _ body: (String) throws -> T) throws -> T {
        try withTemporaryDirectory { (folder: String) throws -> T in
            let path = folder + "/data.tsv"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return try body(path)
        }
    }

    @Test func fidelityOfAModelWithItselfIsOne() throws {
        let model = EvaluatedModel.sentenceEncoder(try Self.tinyEncoder())
        try withFile(Self.sentences.joined(separator: "\n")) { (path: String) throws in
            let m = try EvaluationTask.fidelity(data: path, limit: 4).evaluate(model, reference: model)
            #expect(Set(m.keys) == ["cosine_mean", "cosine_min"])
            #expect(abs((m["cosine_mean"] ?? 0) - 1) < 1e-6)
            #expect(abs((m["cosine_min"] ?? 0) - 1) < 1e-6)
            // A differently initialised encoder is measurably less faithful.
            let other = EvaluatedModel.sentenceEncoder(try Self.tinyEncoder(seed: 2))
            let d = try EvaluationTask.fidelity(data: path).evaluate(other, reference: model)
            #expect((d["cosine_mean"] ?? 1) < 0.999)
            #expect((d["cosine_min"] ?? 1) <= (d["cosine_mean"] ?? 0))
            #expect(throws: EvaluationError.referenceRequired(task: "fidelity")) {
                try EvaluationTask.fidelity(data: path).evaluate(model)
            }
        }
    }

    @Test func retrievalOfIdenticalPairsIsPerfect() throws {
        let model = EvaluatedModel.sentenceEncoder(try Self.tinyEncoder())
        try withFile(Self.sentences.map { "\($0)\t\($0)" }.joined(separator: "\n")) { (path: String) throws in
            let m = try EvaluationTask.retrieval(data: path).evaluate(model)
            #expect(m == ["retrieval_top1": 1, "retrieval_mrr": 1])
        }
    }

    @Test func nearestCentroidClassifiesItsOwnTrainingSentences() throws {
        let model = EvaluatedModel.sentenceEncoder(try Self.tinyEncoder())
        // One sentence per label: each test sentence is its label's centroid.
        let text = Self.sentences.enumerated().map { "label\($0)\t\($1)" }.joined(separator: "\n")
        try withFile(text) { (path: String) throws in
            let m = try EvaluationTask.classification(train: path, test: path).evaluate(model)
            #expect(m == ["accuracy": 1, "macro_f1": 1])
        }
    }

    @Test func similarityIsOneWhenScoresFollowTheCosine() throws {
        let encoder = try Self.tinyEncoder()
        let a = Array(Self.sentences.prefix(5)), b = Array(Self.sentences.suffix(5))
        let cosines = Metrics.rowCosines(encoder.encode(a), encoder.encode(b))
        let lines = (0..<5).map { "\(a[$0])\t\(b[$0])\t\(String(format: "%.6f", 3 * cosines[$0] + 1))" }
        try withFile(lines.joined(separator: "\n")) { (path: String) throws in
            let m = try EvaluationTask.similarity(data: path).evaluate(.sentenceEncoder(encoder))
            #expect(abs((m["spearman"] ?? 0) - 1) < 1e-12)
        }
    }

    static func uniformDecoder() -> (GPTDecoder, CharacterVocabulary) {
        let vocabulary = CharacterVocabulary(corpus: "abcdefgh \n")
        var rng = RandomGenerator(seed: 3)
        let decoder = GPTDecoder(.init(vocabularySize: vocabulary.count, contextLength: 8, width: 8, layers: 1, heads: 2), rng: &rng)
        decoder.head.weight.value = Tensor.zeros(decoder.head.weight.shape)
        return (decoder, vocabulary)
    }

    @Test func perplexityOfAUniformDecoderIsTheVocabularySize() throws {
        let (decoder, vocabulary) = Self.uniformDecoder()
        // 3 lines → 3 full windows of 8 and a partial one; every prediction is uniform over 10.
        try withFile("abc defgh abc\nhgf edcba\nabcdefgh\nnot counted") { (path: String) throws in
            let m = try EvaluationTask.perplexity(data: path, limit: 3).evaluate(.decoder(decoder, vocabulary))
            #expect(abs((m["perplexity"] ?? 0) - Double(vocabulary.count)) < 1e-4)
            // Decoders compare logits in fidelity.
            let f = try EvaluationTask.fidelity(data: path).evaluate(.decoder(decoder, vocabulary), reference: .decoder(decoder, vocabulary))
            #expect(f["cosine_mean"] == 0)   // all-zero logits have no direction: cosine 0 by definition
        }
    }

    @Test func classifierArgmax() throws {
        // One Linear layer with identity weights: the predicted class is the larger feature.
        let classifier = MLPClassifier(configuration: .init(inputs: 2, hidden: [], classes: 2),
                                       layers: [Linear(weight: Tensor(shape: [2, 2], scalars: [1, 0, 0, 1]), bias: nil)])
        try withFile("0\t1.0, 0.0\n1\t0 2\n1\t3 1\n") { (path: String) throws in
            let m = try EvaluationTask.classification(train: path, test: path).evaluate(.classifier(classifier))
            #expect(abs((m["accuracy"] ?? 0) - 2.0 / 3) < 1e-12)
            // Class 0: TP 1, FP 1 → 2/3; class 1: TP 1, FN 1 → 2/3.
            #expect(abs((m["macro_f1"] ?? 0) - 2.0 / 3) < 1e-12)
        }
        try withFile("0\t1 2 3\n") { (path: String) throws in
            #expect(throws: EvaluationError.dataMismatch(file: path, line: 1, expected: "2 features", found: "3")) {
                try EvaluationTask.classification(train: path, test: path).evaluate(.classifier(classifier))
            }
        }
        try withFile("7\t1 2\n") { (path: String) throws in
            #expect(throws: EvaluationError.dataMismatch(file: path, line: 1, expected: "a class index 0..<2", found: "'7'")) {
                try EvaluationTask.classification(train: path, test: path).evaluate(.classifier(classifier))
            }
        }
    }

    @Test func tasksRefuseModelsTheyDoNotApplyTo() throws {
        let (decoder, vocabulary) = Self.uniformDecoder()
        try withFile("a\tb\n") { (path: String) throws in
            #expect(throws: EvaluationError.unsupported(task: "retrieval", model: "decoder", hint: "it needs a sentence encoder")) {
                try EvaluationTask.retrieval(data: path).evaluate(.decoder(decoder, vocabulary))
            }
            let encoder = EvaluatedModel.sentenceEncoder(try Self.tinyEncoder())
            #expect(throws: EvaluationError.unsupported(task: "perplexity", model: "sentence encoder", hint: "it needs a decoder")) {
                try EvaluationTask.perplexity(data: path).evaluate(encoder)
            }
            #expect(throws: EvaluationError.referenceMismatch(task: "fidelity", expected: "a sentence encoder", found: "a decoder")) {
                try EvaluationTask.fidelity(data: path).evaluate(.decoder(decoder, vocabulary), reference: encoder)
            }
        }
    }

    @Test(arguments: [
        EvaluationTask.fidelity(data: "x"), .retrieval(data: "x"), .classification(train: "x", test: "y"),
        .similarity(data: "x"), .perplexity(data: "x"), .klDivergence(data: "x"),
    ])
    func metricKeysAreTheReportsKeys(task: EvaluationTask) {
        let all = Set(MetricKey.allCases.map(\.rawValue))
        #expect(all == ["cosine_mean", "cosine_min", "retrieval_top1", "retrieval_mrr", "accuracy", "macro_f1", "spearman", "perplexity",
                        "perplexity_stderr", "nll_per_byte", "kl_mean", "kl_median", "kl_p99", "kl_max", "same_top", "delta_perplexity", "kl_rest_mass"])
        #expect(task.metricKeys.allSatisfy { all.contains($0.rawValue) })
    }
}
