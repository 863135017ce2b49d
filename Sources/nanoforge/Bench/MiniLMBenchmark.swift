import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoQuant
import NanoTensor

/// `bench minilm`: all-MiniLM-L6-v2 fp32 sentence embeddings (encoder + pooling) at batch 1 and
/// batch 32, sequences truncated at 128 tokens, against PyTorch (transformers' BertModel) on the
/// same sentences in the same run.
struct MiniLMBenchmark {
    let model: String
    let sentences: String
    let torchPython: String
    let threads: Int
    static let maxLength = 128, single = 64, batches = 6

    func run() throws -> [String: Any] {
        Parallel.workers = threads
        print("nanoforge bench minilm — \(threads) threads, \(model)")
        let encoder = try SentenceEncoder.load(path: model, maxLength: Self.maxLength)
        guard let text = try? String(contentsOfFile: sentences, encoding: .utf8) else {
            throw CLIErrors.BadInput("\(sentences): cannot read (run `make setup`)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        guard lines.count >= 32 * Self.batches else { throw CLIErrors.BadInput("\(sentences): need at least \(32 * Self.batches) sentences") }
        let ids = lines.map { encoder.tokenizer.encode($0, maxLength: Self.maxLength) }

        func forward(_ rows: [[Int]]) {
            _ = encoder.embeddings(encoder.batch(tokenIds: rows), tape: Tape(recording: false))
        }
        func medianMs(_ groups: [[[Int]]], warmup: Int) -> Double {
            for g in groups.prefix(warmup) { forward(g) }
            var times: [Double] = []
            for g in groups {
                let start = ContinuousClock.now
                forward(g)
                times.append((ContinuousClock.now - start).seconds * 1000)
            }
            return Measurement.median(times)
        }
        let b1 = medianMs(ids.prefix(Self.single).map { [$0] }, warmup: 3)
        let b32 = medianMs((0..<Self.batches).map { Array(ids[($0 * 32)..<($0 * 32 + 32)]) }, warmup: 1)
        let torch = BenchmarkOutput.runReference(torchPython, "bench/reference/torch_minilm_forward.py",
                                                 ["--model", model, "--sentences", sentences, "--threads", String(threads),
                                                  "--max-length", String(Self.maxLength), "--single", String(Self.single),
                                                  "--batches", String(Self.batches)], threads: threads)
        let t1 = torch?["batch1_ms"] as? Double, t32 = torch?["batch32_ms"] as? Double
        let tokens = Double(ids.prefix(Self.single).map(\.count).reduce(0, +)) / Double(Self.single)
        print("\nMiniLM fp32 sentence embeddings (median; batch 1 ≈ \(String(format: "%.0f", tokens)) tokens)")
        print("  batch  1: nanoforge \(BenchmarkOutput.format(b1, 2)) ms   PyTorch \(BenchmarkOutput.format(t1, 2)) ms   ratio \(BenchmarkOutput.format(t1.map { b1 / $0 }, 2))")
        print("  batch 32: nanoforge \(BenchmarkOutput.format(b32, 1)) ms   PyTorch \(BenchmarkOutput.format(t32, 1)) ms   ratio \(BenchmarkOutput.format(t32.map { b32 / $0 }, 2))")
        func row(_ ours: Double, _ ref: Double?) -> [String: Any] {
            ["ms": ours, "torch_ms": ref ?? NSNull(), "ratio": ref.map { ours / $0 } ?? NSNull()]
        }
        return ["minilm_forward": ["batch1": row(b1, t1), "batch32": row(b32, t32), "max_length": Self.maxLength,
                                   "tokens_batch1": tokens, "threads": threads, "sentences": sentences]]
    }
}
