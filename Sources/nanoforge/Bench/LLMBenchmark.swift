import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor

/// `bench llm`: a Llama-family model's prompt processing (tokens/s over a 512-token prompt, last
/// position's logits only) and greedy decoding (tokens/s over 128 new tokens after a 64-token
/// prompt, through the KV cache), against PyTorch (transformers reading the same GGUF) in the
/// same run. Both sides use the token ids (i · 7919 + 13) mod V.
struct LLMBenchmark {
    let model: String
    let torchPython: String
    let threads: Int
    static let promptTokens = 512, decodePrompt = 64, newTokens = 128, runs = 3

    static func ids(_ count: Int, vocabulary: Int) -> [Int] { (0..<count).map { ($0 * 7919 + 13) % vocabulary } }

    func run() throws -> [String: Any] {
        Parallel.workers = threads
        print("nanoforge bench llm — \(threads) threads, \(model)")
        let llama = try ModelLoader.load(path: model, as: LlamaModel.self)
        let c = llama.configuration
        guard c.contextLength >= Self.promptTokens else { throw CLIErrors.BadInput("\(model): context \(c.contextLength) < \(Self.promptTokens)") }

        let prompt = Self.ids(Self.promptTokens, vocabulary: c.vocabularySize)
        var promptTimes: [Double] = []
        for run in 0...Self.runs {
            let cache = LlamaKVCache(for: llama, capacity: Self.promptTokens)
            let start = ContinuousClock.now
            _ = llama.decode(prompt, cache: cache, lastPositionOnly: true)
            if run > 0 { promptTimes.append((ContinuousClock.now - start).seconds) }
        }
        let promptRate = Double(Self.promptTokens) / Measurement.median(promptTimes)

        let short = Self.ids(Self.decodePrompt, vocabulary: c.vocabularySize)
        var decodeTimes: [Double] = [], generated: [Int] = []
        for run in 0...Self.runs {
            let cache = LlamaKVCache(for: llama, capacity: Self.decodePrompt + Self.newTokens + 1)
            var token = TokenSampler.argmax(llama.decode(short, cache: cache, lastPositionOnly: true).scalars[...])
            var new = [token]
            let start = ContinuousClock.now
            for _ in 0..<Self.newTokens {
                token = TokenSampler.argmax(llama.decode([token], cache: cache).scalars[...])
                new.append(token)
            }
            if run > 0 { decodeTimes.append((ContinuousClock.now - start).seconds) }
            generated = new
        }
        let decodeRate = Double(Self.newTokens) / Measurement.median(decodeTimes)

        let torch = BenchmarkOutput.runReference(torchPython, "bench/reference/torch_llm.py",
                                                 ["--model", model, "--threads", String(threads), "--prompt", String(Self.promptTokens),
                                                  "--decode-prompt", String(Self.decodePrompt), "--new", String(Self.newTokens),
                                                  "--runs", String(Self.runs)], threads: threads)
        let tp = torch?["prompt_tokens_per_s"] as? Double, td = torch?["decode_tokens_per_s"] as? Double
        let sameTokens = (torch?["generated"] as? [Int]).map { $0 == Array(generated.prefix($0.count)) }
        print("\n\(c.layers) layers, width \(c.width), vocabulary \(c.vocabularySize), Float32 weights")
        print("  prompt processing (\(Self.promptTokens) tokens): nanoforge \(BenchmarkOutput.format(promptRate)) tokens/s   "
              + "PyTorch \(BenchmarkOutput.format(tp)) tokens/s   ratio \(BenchmarkOutput.format(tp.map { promptRate / $0 }, 2))")
        print("  greedy decoding (\(Self.newTokens) after \(Self.decodePrompt)): nanoforge \(BenchmarkOutput.format(decodeRate)) tokens/s   "
              + "PyTorch \(BenchmarkOutput.format(td)) tokens/s   ratio \(BenchmarkOutput.format(td.map { decodeRate / $0 }, 2))")
        if let sameTokens { print("  same first 16 greedy tokens as PyTorch: \(sameTokens)") }
        func row(_ ours: Double, _ ref: Double?) -> [String: Any] {
            ["tokens_per_s": ours, "torch_tokens_per_s": ref ?? NSNull(), "ratio": ref.map { ours / $0 } ?? NSNull()]
        }
        return ["llm": ["model": model, "threads": threads,
                        "prompt_processing": row(promptRate, tp).merging(["tokens": Self.promptTokens]) { a, _ in a },
                        "greedy_decoding": row(decodeRate, td).merging(["prompt": Self.decodePrompt, "new_tokens": Self.newTokens]) { a, _ in a },
                        "same_greedy_tokens": sameTokens.map { $0 as Any } ?? NSNull()]]
    }
}
