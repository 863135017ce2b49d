import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor

/// `bench llm-runtime`: the same GGUF files decoded by nanoforge's packed runtime (`GGMLDecoding`)
/// and by llama.cpp's `llama-bench`, in the same run, 2 threads each: prompt processing of 512
/// tokens from an empty cache (last position's logits, as llama-bench's pp512), decoding 128 tokens
/// one at a time from an empty cache (tg128), each the median of `runs` after a warm-up; peak RSS
/// (each engine in its own process, `wait4`'s high-water mark) and load time (nanoforge: file to a
/// ready model; llama.cpp: `llama-simple`'s `load time`), the file read once beforehand so both load from the page cache. Token ids are (i · 7919 + 13) mod V.
struct LLMRuntimeBenchmark {
    let files: [String]
    let llamaCpp: String
    let nanoforge: String
    let threads: Int
    let workDir: String
    static let promptTokens = 512, newTokens = 128, runs = 3
    /// The nano LLM that `Recipes/smollm2-nano.yaml` writes, benchmarked when present.
    static let nanoModel = "out/smollm2-nano/model.gguf"

    /// One engine run inside this process (the child that `run` measures): the JSON row.
    static func engine(model: String, dense: Bool, threads: Int) throws -> [String: Any] {
        Parallel.workers = threads
        let start = ContinuousClock.now
        let (llama, report) = try GGMLDecodingOption.load(path: model, engine: dense ? .dense : .runtime)
        let load = (ContinuousClock.now - start).seconds
        let c = llama.configuration
        let prompt = LLMBenchmark.ids(promptTokens, vocabulary: c.vocabularySize)
        var promptTimes: [Double] = [], decodeTimes: [Double] = []
        for run in 0...runs {
            let cache = LlamaKVCache(for: llama, capacity: promptTokens)
            let t0 = ContinuousClock.now
            _ = llama.decode(prompt, cache: cache, lastPositionOnly: true)
            if run > 0 { promptTimes.append((ContinuousClock.now - t0).seconds) }
        }
        for run in 0...runs {
            let cache = LlamaKVCache(for: llama, capacity: newTokens)
            var token = prompt[0]
            let t0 = ContinuousClock.now
            for _ in 0..<newTokens { token = TokenSampler.argmax(llama.decode([token], cache: cache).scalars[...]) }
            if run > 0 { decodeTimes.append((ContinuousClock.now - t0).seconds) }
        }
        return ["load_s": load, "prompt_tokens_per_s": Double(promptTokens) / Measurement.median(promptTimes),
                "decode_tokens_per_s": Double(newTokens) / Measurement.median(decodeTimes),
                "engine": report?.description ?? "dense Float32", "kernel_set": KernelSet.current.name]
    }

    func run() throws -> [String: Any] {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
        print("nanoforge bench llm-runtime — \(threads) threads, kernel set \(KernelSet.current.name), load average \(load)")
        var rows: [[String: Any]] = []
        for file in files {
            guard FileManager.default.fileExists(atPath: file) else {
                if file == Self.nanoModel {
                    print("\n\(file): skipped, not made yet (nanoforge compress Recipes/smollm2-nano.yaml, about 30 minutes)")
                    continue
                }
                throw CLIErrors.BadInput("\(file): no such file")
            }
            let name = (file as NSString).lastPathComponent
            // Read once so that both engines load from the page cache: the first engine would
            // otherwise pay for the disk (6.3 s against 0.2 s measured on a file evicted by a build).
            // In 1 MB pieces: a child's peak RSS (wait4) counts the memory this process holds when
            // it forks, so the whole file read at once showed up in every later engine's figure.
            if let handle = FileHandle(forReadingAtPath: file) {
                while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {}
                try handle.close()
            }
            let ours = try MeasuredProcess.run(nanoforge, ["bench", "llm-runtime", "--engine-model", file, "--threads", String(threads)],
                                               log: workDir + "/nanoforge-\(name).log")
            guard let row = Self.lastJSONLine(ours.log) else { throw CLIErrors.BadInput("\(ours.log): no result line") }
            let bench = try MeasuredProcess.run(llamaCpp + "/llama-bench", ["-m", file, "-t", String(threads), "-p", String(Self.promptTokens),
                                                                            "-n", String(Self.newTokens), "-r", String(Self.runs), "-o", "jsonl"],
                                                log: workDir + "/llama-bench-\(name).log")
            let results = Self.jsonLines(bench.log)
            let pp = results.first { ($0["n_prompt"] as? Int) == Self.promptTokens && ($0["n_gen"] as? Int) == 0 }?["avg_ts"] as? Double
            let tg = results.first { ($0["n_gen"] as? Int) == Self.newTokens && ($0["n_prompt"] as? Int) == 0 }?["avg_ts"] as? Double
            let simple = try MeasuredProcess.run(llamaCpp + "/llama-simple", ["-m", file, "-n", "1", "Hello"], log: workDir + "/llama-simple-\(name).log")
            let cppLoad = Self.llamaLoadSeconds(simple.log)
            let (opp, otg) = (row["prompt_tokens_per_s"] as? Double ?? .nan, row["decode_tokens_per_s"] as? Double ?? .nan)
            let kernels = row["kernel_set"] as? String ?? "?"
            print("\n\(name) — nanoforge: \(row["engine"] ?? "")")
            print("  prompt processing (\(Self.promptTokens)): nanoforge \(BenchmarkOutput.format(opp)) tokens/s [\(kernels)]   llama.cpp \(BenchmarkOutput.format(pp)) tokens/s   ratio \(BenchmarkOutput.format(pp.map { opp / $0 }, 2))")
            print("  decoding (\(Self.newTokens)): nanoforge \(BenchmarkOutput.format(otg)) tokens/s [\(kernels)]   llama.cpp \(BenchmarkOutput.format(tg)) tokens/s   ratio \(BenchmarkOutput.format(tg.map { otg / $0 }, 2))")
            print("  peak RSS: nanoforge \(ours.peakRSSBytes >> 20) MB   llama.cpp (llama-bench) \(bench.peakRSSBytes >> 20) MB;   load: nanoforge \(BenchmarkOutput.format(row["load_s"] as? Double, 2)) s   llama.cpp \(BenchmarkOutput.format(cppLoad, 2)) s")
            let ppRow: [String: Any] = ["tokens": Self.promptTokens, "nanoforge_tokens_per_s": opp, "llama_cpp_tokens_per_s": pp ?? NSNull(),
                                        "ratio": pp.map { opp / $0 } ?? NSNull()]
            let tgRow: [String: Any] = ["tokens": Self.newTokens, "nanoforge_tokens_per_s": otg, "llama_cpp_tokens_per_s": tg ?? NSNull(),
                                        "ratio": tg.map { otg / $0 } ?? NSNull()]
            let rss: [String: Any] = ["nanoforge": ours.peakRSSBytes >> 20, "llama_cpp": bench.peakRSSBytes >> 20]
            let loads: [String: Any] = ["nanoforge": row["load_s"] ?? NSNull(), "llama_cpp": cppLoad ?? NSNull()]
            var entry: [String: Any] = ["file": file, "kernel_set": kernels, "engine": row["engine"] ?? NSNull()]
            entry["prompt_processing"] = ppRow
            entry["decoding"] = tgRow
            entry["peak_rss_mb"] = rss
            entry["load_s"] = loads
            rows.append(entry)
        }
        return ["llm_runtime": ["threads": threads, "kernels": KernelSet.current.name, "cpu": MeasuredProcess.cpuName(), "load_average": load,
                                "runs": Self.runs, "files": rows]]
    }

    static func jsonLines(_ log: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func lastJSONLine(_ log: String) -> [String: Any]? { jsonLines(log).last }

    /// `llama_perf_context_print: load time = 684.70 ms` → 0.6847.
    static func llamaLoadSeconds(_ log: String) -> Double? {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.contains("load time =") }),
              let value = line.split(separator: "=").last?.split(separator: " ").first, let ms = Double(value) else { return nil }
        return ms / 1000
    }
}
