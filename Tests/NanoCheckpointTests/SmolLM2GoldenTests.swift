import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// Where the real model and its golden outputs are, and whether the tests can run here.
enum SmolLM2Fixture {
    static let path = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let goldenPath = RepositoryPaths.fixture("models/smollm2/golden.safetensors")

    static var available: Bool {
        FileManager.default.fileExists(atPath: path) && (GGUFTensorType(name: "Q4_1")?.isReadable ?? false)
    }
    static let skipReason: Comment = """
        needs .cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf (make setup) and GGUF Q4_1 dequantization
        """
}

/// SmolLM2-135M-Instruct from its Q4_1 GGUF file against transformers reading the same file
/// (scripts/reference/smollm2_golden.py): logits, perplexity and greedy continuations.
@Suite(.serialized, .enabled(if: SmolLM2Fixture.available, SmolLM2Fixture.skipReason))
struct SmolLM2GoldenTests {
    static let path = SmolLM2Fixture.path
    static let goldenPath = SmolLM2Fixture.goldenPath

    /// Loaded once for the suite (about 135 M parameters, 540 MB as Float32).
    static let model: Result<LlamaModel, Error> = Result { try ModelLoader.load(path: path, as: LlamaModel.self) }
    static let golden: Result<TensorStore, Error> = Result { try SafetensorsReader.read(path: goldenPath) }

    static func rows(_ t: StoredTensor) -> [[Int]] {
        let flat = t.integers().map(Int.init), width = t.shape.last!
        return stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<$0 + width]) }
    }

    @Test func configurationFromMetadata() throws {
        let c = try Self.model.get().configuration
        #expect(c == LlamaConfiguration(vocabularySize: 49_152, width: 576, layers: 30, heads: 9, kvHeads: 3, headDimension: 64,
                                        feedForwardWidth: 1536, contextLength: 8192, ropeBase: 100_000, rmsEpsilon: 1e-5,
                                        tiedEmbeddings: true))
        #expect(try Self.model.get().parameterCount == 134_515_008)
        #expect(try ModelLoader.endOfSequenceTokens(path: Self.path) == [2])
    }

    /// Top-1 at every position, logits, and perplexity on four 64-token windows.
    @Test func logitsAndPerplexityMatchTransformers() throws {
        let model = try Self.model.get(), g = try Self.golden.get()
        let windows = Self.rows(g["tokens"]!)
        let (n, t, v) = (windows.count, windows[0].count, model.configuration.vocabularySize)
        let logits = model(windows.flatMap { $0 }, batch: n, length: t, tape: Tape(recording: false)).value
        let logProbabilities = logits.logSoftmax(axis: -1)
        let argmax = g["argmax"]!.integers().map(Int.init)
        let columns = g["columns"]!.integers().map(Int.init)
        let columnLogits = try g.floatTensor("column_logits").scalars
        let topIDs = g["top_ids"]!.integers().map(Int.init), topLogits = try g.floatTensor("top_logits").scalars
        let logSumExp = try g.floatTensor("logsumexp").scalars
        let targets = try g.floatTensor("target_logprob").scalars
        var worstLogit: Float = 0, worstLogSumExp: Float = 0, sameTop = 0, logLikelihood = 0.0
        for row in 0..<(n * t) {
            let r = logits.scalars[row * v..<(row + 1) * v]
            if TokenSampler.argmax(r) == argmax[row] { sameTop += 1 }
            for (i, column) in columns.enumerated() {
                worstLogit = max(worstLogit, abs(r[row * v + column] - columnLogits[row * columns.count + i]))
            }
            for k in 0..<8 { worstLogit = max(worstLogit, abs(r[row * v + topIDs[row * 8 + k]] - topLogits[row * 8 + k])) }
            // log Σ exp(logits) = logit − log p for any entry.
            let lse = r[row * v] - logProbabilities.scalars[row * v]
            worstLogSumExp = max(worstLogSumExp, abs(lse - logSumExp[row]))
        }
        var worstTarget: Float = 0
        for s in 0..<n {
            for p in 0..<(t - 1) {
                let ours = logProbabilities.scalars[(s * t + p) * v + windows[s][p + 1]]
                worstTarget = max(worstTarget, abs(ours - targets[s * (t - 1) + p]))
                logLikelihood += Double(ours)
            }
        }
        let perplexity = Foundation.exp(-logLikelihood / Double(n * (t - 1)))
        let reference = g["perplexity"]!.floatTensor().scalars[0]
        print("SmolLM2 vs transformers on \(n)×\(t) tokens: top-1 \(sameTop)/\(n * t), max |Δ logit| \(worstLogit), "
              + "max |Δ logsumexp| \(worstLogSumExp), max |Δ log p(target)| \(worstTarget), perplexity \(perplexity) vs \(reference)")
        #expect(sameTop == n * t)
        // Measured 5.3e-5 (logits) and 3.4e-5 (log-sum-exp) over logits of magnitude up to ~30: the
        // order of float32 additions differs from PyTorch's. Perplexity 37.6014 against 37.6014.
        #expect(worstLogit <= 2e-4)
        #expect(worstLogSumExp <= 2e-4)
        #expect(String(format: "%.4g", perplexity) == String(format: "%.4g", Double(reference)))
    }

    /// Greedy decoding through the KV cache continues each chat prompt exactly as transformers does.
    @Test func greedyContinuationsMatchTransformers() throws {
        let model = try Self.model.get(), g = try Self.golden.get()
        let flat = g["prompt_ids"]!.integers().map(Int.init)
        let expected = Self.rows(g["greedy"]!)
        var start = 0
        for (i, length) in g["prompt_lengths"]!.integers().map(Int.init).enumerated() {
            let prompt = Array(flat[start..<start + length])
            start += length
            var sampler = TokenSampler()
            let generated = model.generate(prompt: prompt, maxTokens: expected[i].count, sampler: &sampler)
            let agree = zip(generated, expected[i]).prefix { $0 == $1 }.count
            #expect(generated == expected[i], "prompt \(i): first \(agree) tokens agree")
        }
    }
}
