import Foundation
import NanoTensor

/// `bench serve`: the same load against `nanoforge serve` and llama.cpp's `llama-server` on the
/// same GGUF (completions), and against `nanoforge serve` on a sentence encoder (embeddings):
/// N concurrent loopback clients for a bounded time, each sending one request after another.
/// Records requests/s, generated tokens/s, p50 / p99 latency, errors (which must be 0) and the
/// server's peak RSS, and the throughput ratio nanoforge / llama-server.
struct ServeBenchmark {
    let decoder: String
    let encoder: String?
    let llamaCpp: String
    let nanoforge: String
    let clients: Int
    let duration: Double
    let maxTokens: Int
    let threads: Int
    let workDir: String

    /// Prompts from the pydoc sentences set-up writes (a fixed list when absent).
    static func prompts() -> [String] {
        let text = (try? String(contentsOfFile: ".cache/data/pydoc-sentences.txt", encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map(String.init).filter { $0.count > 20 && $0.count < 200 }
        return lines.isEmpty ? ["The capital of France is", "A list in Python is", "To open a file, call"] : Array(lines.prefix(64))
    }

    func load(_ server: ServerProcess, path: String, body: @escaping (Int) -> [String: Any], usage: String) throws -> [String: Any] {
        // One request first, untimed: a server's first request may pay for lazy set-up.
        _ = try LoadGenerator(url: URL(string: server.baseURL + path)!, clients: 1, duration: 60, maxRequests: 1, body: body, usageField: usage).run()
        let result = try LoadGenerator(url: URL(string: server.baseURL + path)!, clients: clients, duration: duration,
                                       maxRequests: 100_000, body: body, usageField: usage).run()
        let (clean, rss) = server.stop()
        let row: [String: Any] = [
            "server": server.name, "requests": result.latencies.count, "errors": result.errors, "first_error": result.firstError ?? NSNull(),
            "seconds": result.seconds, "requests_per_s": result.requestsPerSecond, "tokens_per_s": result.tokensPerSecond,
            "p50_latency_s": result.percentile(0.5), "p99_latency_s": result.percentile(0.99), "peak_rss_mb": rss >> 20,
            "clean_exit_on_sigterm": clean,
        ]
        print(String(format: "  %@: %d requests in %.1f s, %.2f requests/s, %.1f %@ tokens/s, p50 %.3f s, p99 %.3f s, %d errors, peak RSS %d MB%@",
                     server.name, result.latencies.count, result.seconds, result.requestsPerSecond, result.tokensPerSecond,
                     usage == "completion_tokens" ? "generated" : "input", result.percentile(0.5), result.percentile(0.99), result.errors,
                     rss >> 20, clean ? "" : " (did not exit cleanly on SIGTERM)"))
        if let error = result.firstError { print("    first error: \(error)") }
        return row
    }

    func run() throws -> [String: Any] {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let average = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "unknown"
        print("nanoforge bench serve — \(clients) clients × \(Int(duration)) s, \(threads) threads, kernel set \(KernelSet.current.name), load average \(average)")
        let prompts = Self.prompts()
        let name = (decoder as NSString).lastPathComponent
        let completion: (Int) -> [String: Any] = { i in
            ["model": "model", "prompt": prompts[i % prompts.count], "max_tokens": maxTokens, "temperature": 0]
        }
        print("\ncompletions on \(name), max_tokens \(maxTokens), greedy:")
        let ours = try ServerProcess(name: "nanoforge serve", executable: nanoforge,
                                     arguments: ["serve", "model=" + decoder, "--port", "{port}", "--max-concurrency", String(clients)],
                                     log: workDir + "/nanoforge-serve-\(name).log")
        let ourRow = try load(ours, path: "/v1/completions", body: completion, usage: "completion_tokens")
        let theirs = try ServerProcess(name: "llama-server", executable: llamaCpp + "/llama-server",
                                       arguments: ["-m", decoder, "--host", "127.0.0.1", "--port", "{port}", "-t", String(threads),
                                                   "-np", String(clients), "-c", String(1024 * clients), "--no-webui", "--alias", "model"],
                                       log: workDir + "/llama-server-\(name).log")
        let theirRow = try load(theirs, path: "/v1/completions", body: completion, usage: "completion_tokens")
        let ratio = (ourRow["requests_per_s"] as! Double) / max(theirRow["requests_per_s"] as! Double, 1e-9)
        print(String(format: "  throughput ratio nanoforge / llama-server: %.2f (requests/s)", ratio))
        var result: [String: Any] = [
            "clients": clients, "duration_s": duration, "threads": threads, "cpu": MeasuredProcess.cpuName(), "load_average": average,
            "completions": ["file": decoder, "max_tokens": maxTokens, "nanoforge": ourRow, "llama_server": theirRow, "throughput_ratio": ratio],
        ]
        if let encoder {
            print("\nembeddings on \(encoder), one sentence a request:")
            let server = try ServerProcess(name: "nanoforge serve", executable: nanoforge,
                                           arguments: ["serve", "model=" + encoder, "--port", "{port}", "--max-concurrency", String(clients)],
                                           log: workDir + "/nanoforge-serve-encoder.log")
            result["embeddings"] = ["model": encoder, "nanoforge": try load(server, path: "/v1/embeddings", body: { i in
                ["model": "model", "input": prompts[i % prompts.count]]
            }, usage: "prompt_tokens")]
        }
        return ["serve": result]
    }
}
