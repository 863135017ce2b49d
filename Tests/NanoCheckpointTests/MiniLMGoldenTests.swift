import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// all-MiniLM-L6-v2 in Swift against PyTorch's golden outputs (scripts/fixtures/make_minilm_golden.py).
@Suite(.serialized) struct MiniLMGoldenTests {
    static let modelPath = RepositoryPaths.cache("models/all-MiniLM-L6-v2")

    struct Golden {
        var sentences: [String]
        var ids: [[Int]]
        var embeddings: Tensor
    }

    static func golden(_ name: String) throws -> Golden {
        let text = try String(contentsOfFile: RepositoryPaths.fixture("minilm/\(name).txt"), encoding: .utf8)
        let sentences = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let store = try SafetensorsReader.read(path: RepositoryPaths.fixture("minilm/\(name).safetensors"))
        let flat = store["token_ids"]!.integers().map(Int.init)
        var ids: [[Int]] = [], start = 0
        for n in store["lengths"]!.integers() { ids.append(Array(flat[start..<start + Int(n)])); start += Int(n) }
        return Golden(sentences: sentences, ids: ids, embeddings: try store.floatTensor("embeddings"))
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x * x); nb += Double(y * y) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    @Test(arguments: ["pydoc", "unseen"])
    func tokenIdsIdentical(set: String) throws {
        _ = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2/vocab.txt")
        let g = try Self.golden(set)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: Self.modelPath + "/vocab.txt")
        #expect(g.sentences.count == 50)
        for (sentence, expected) in zip(g.sentences, g.ids) {
            #expect(tokenizer.encode(sentence) == expected, "\(sentence)")
        }
    }

    @Test func embeddingsMatchPyTorch() throws {
        _ = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2/model.safetensors")
        let g = try Self.golden("pydoc")
        let encoder = try Self.loadEncoder()
        let ours = encoder.encode(g.sentences, batchSize: 16)
        let d = ours.shape[1]
        var worstCosine = 1.0
        for i in 0..<g.sentences.count {
            worstCosine = min(worstCosine, Self.cosine(ours.scalars[i * d..<(i + 1) * d], g.embeddings.scalars[i * d..<(i + 1) * d]))
        }
        print("MiniLM vs PyTorch on 50 sentences: worst cosine \(worstCosine), max |diff| \(maxAbsDifference(ours, g.embeddings))")
        #expect(worstCosine >= 0.99999, "worst cosine \(worstCosine)")
        #expect(maxAbsDifference(ours, g.embeddings) <= 1e-4)
    }

    /// The CLI on sentences outside the development set: Bible verses, weather requests, odd text.
    @Test func embedCommandOnUnseenText() throws {
        _ = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2/model.safetensors")
        let g = try Self.golden("unseen")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-embed-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try CommandRunner.nanoforge(["embed", Self.modelPath, "--input", RepositoryPaths.fixture("minilm/unseen.txt"),
                                                  "--output", out, "--batch-size", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try SafetensorsReader.read(path: out).floatTensor("embeddings")
        #expect(ours.shape == g.embeddings.shape)
        let d = ours.shape[1]
        for i in 0..<g.sentences.count {
            let c = Self.cosine(ours.scalars[i * d..<(i + 1) * d], g.embeddings.scalars[i * d..<(i + 1) * d])
            #expect(c >= 0.99999, "sentence \(i): cosine \(c)")
        }
    }

    @Test func inspectCountsParameters() throws {
        _ = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2/model.safetensors")
        let result = try CommandRunner.nanoforge(["inspect", Self.modelPath])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(22.7 M)"), "\(result.stdout.suffix(300))")
        #expect(result.stdout.contains("architecture: bert: 6 layers, width 384, 12 heads"))
    }

    static func loadEncoder() throws -> SentenceEncoder {
        let (model, _) = try ModelLoader.load(path: modelPath)
        guard let bert = model.as(BertEncoder.self) else { throw CheckpointError.invalidConfig(file: modelPath, field: "model_type", reason: "not bert") }
        return SentenceEncoder(tokenizer: try WordPieceTokenizer(vocabularyFile: modelPath + "/vocab.txt"), encoder: bert)
    }
}
