import ArgumentParser
import Foundation
import NanoModels
import NanoRuntime
import NanoServe

/// `nanoforge serve`: models behind an OpenAI-compatible HTTP endpoint (docs/serve.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over an OpenAI-compatible HTTP API (embeddings, completions, chat completions).",
        discussion: """
            Each MODEL is PATH or ALIAS=PATH; the default alias is the folder's or file's base name. BERT sentence \
            encoders answer /v1/embeddings (concurrent requests batched together); Llama-family decoders answer \
            /v1/completions and /v1/chat/completions, one request at a time per model. Prints \
            'listening on http://HOST:PORT' once ready; SIGTERM or SIGINT finishes the requests in flight and exits 0.
            """)

    @Argument(help: "Models to serve: PATH or ALIAS=PATH (a model folder or a GGUF file).")
    var models: [String]

    @Option(help: "Address to bind (loopback by default).")
    var host = "127.0.0.1"

    @Option(help: "Port; 0 picks a free one.")
    var port = 8080

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on /v1/* requests.")
    var apiKey: String?

    @Option(name: .customLong("max-concurrency"), help: "Requests in flight per model (running or queued); more are refused with 429.")
    var maxConcurrency = 64

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body; larger ones are refused with 413.")
    var maxBodyBytes = 4 << 20

    @Option(name: .customLong("max-batch"), help: "Encoders: most sentences in one forward pass, across clients (1 runs each sentence alone).")
    var maxBatch = 32

    @Option(name: .customLong("batch-window-ms"), help: "Encoders: how long the first waiting request collects others before its batch runs.")
    var batchWindowMilliseconds = 2.0

    @Option(help: RuntimeKernel.help)
    var kernel: RuntimeKernel = .standard

    func validate() throws {
        guard !models.isEmpty else { throw ValidationError("give at least one MODEL") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must lie in 0...65535, got \(port)") }
        guard maxConcurrency > 0 else { throw ValidationError("--max-concurrency must be positive, got \(maxConcurrency)") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive, got \(maxBodyBytes)") }
        guard maxBatch > 0 else { throw ValidationError("--max-batch must be positive, got \(maxBatch)") }
        guard batchWindowMilliseconds >= 0 && batchWindowMilliseconds <= 10_000 else {
            throw ValidationError("--batch-window-ms must lie in [0, 10000], got \(batchWindowMilliseconds)")
        }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() throws {
        try CLIErrors.reporting {
            var served: [ServedModel] = []
            for argument in models {
                let start = Date()
                let name: String, path: String, model: ServedModel
                do {
                    (name, path) = try ServedModel.parseArgument(argument)
                    model = try ServedModel.load(name: name, path: path, maxConcurrency: maxConcurrency, kernel: kernel, maxBatch: maxBatch,
                                                 batchWindow: .microseconds(Int64(batchWindowMilliseconds * 1000)))
                } catch let e as ServeError {
                    throw CLIErrors.BadInput(e.description)
                } catch let e as BPETokenizerError {
                    throw CLIErrors.BadInput(e.description)
                }
                log(String(format: "loaded %@ as '%@' (%@) in %.1f s", path, name, model.isEncoder ? "embeddings" : "completions",
                           Date().timeIntervalSince(start)))
                served.append(model)
            }
            var configuration = ServeConfiguration()
            configuration.host = host; configuration.port = port
            configuration.apiKey = apiKey; configuration.maxBodyBytes = maxBodyBytes
            let server: NanoServer
            do { server = try NanoServer(models: served, configuration: configuration) } catch let e as ServeError { throw CLIErrors.BadInput(e.description) }
            // The root command is synchronous: the server runs on Swift's concurrency threads
            // while this thread waits for it to stop.
            final class Outcome: @unchecked Sendable { var error: Error? }
            let outcome = Outcome(), done = DispatchSemaphore(value: 0)
            Task {
                do {
                    let running = try await server.start(signals: true)
                    print("listening on http://\(running.host):\(running.port)")
                    fflush(stdout)
                    try await running.wait()
                } catch { outcome.error = error }
                done.signal()
            }
            done.wait()
            if let error = outcome.error { throw error }
            log("stopped")
        }
    }

    private func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
