import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoRuntime
@testable import NanoServe

/// Embedding requests from concurrent clients run in one batch, and each gets exactly what it
/// would get alone: bit for bit on the integer kernels (exact products; attention reads only a
/// sentence's own keys), within float rounding on fp32 weights (sgemm may sum in another order
/// for another row count).
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServeBatchingTests {
    @Test(arguments: [true, false])
    func concurrentRequestsShareABatchAndMatchOneAtATime(integer: Bool) async throws { try await onTestExecutor {
        let runtime: RuntimeEncoder
        if integer {
            let folder = try ServeFixtures.temporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try ServeFixtures.writePackedEncoder(to: folder)
            runtime = try RuntimeEncoder.load(path: folder, maxLength: 32, kernel: .integer)
        } else {
            runtime = try ServeFixtures.models().encoder.encoder
        }
        // A collection closes when 8 rows wait (or after 20 s): 8 clients of one row each land in
        // one collection whatever the timing, and the test needs no sleep.
        let encoder = ServedEncoder(name: "tiny-bert", encoder: runtime, window: .seconds(20), maxBatch: 8)
        let server = try await TestServer.start([.encoder(encoder)])
        let sentences = ["the cat", "a quick brown fox jumps over the lazy dog", "dog ran far away", "mat",
                         "the lazy cat sat on the mat", "fox", "over the dog", "quick quick quick brown"]
        let replies = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (i, s) in sentences.enumerated() {
                group.addTask {
                    let reply = try await server.post("/v1/embeddings", "{\"model\": \"tiny-bert\", \"input\": \(JSONValue.quote(s))}")
                    return (i, reply.json["data"]?.array?.first?["embedding"]?.array?.map { Float($0.number ?? .nan) } ?? [])
                }
            }
            var out = [[Float]](repeating: [], count: sentences.count)
            for try await (i, v) in group { out[i] = v }
            return out
        }
        await server.stop()
        for (i, s) in sentences.enumerated() {
            let alone = runtime.embeddings(tokenIds: [runtime.tokenizer.encode(s, maxLength: runtime.maxLength)]).scalars
            #expect(replies[i].count == alone.count)
            if integer {
                #expect(replies[i].map(\.bitPattern) == alone.map(\.bitPattern), "sentence \(i) differs from its one-at-a-time embedding")
            } else {
                // fp32: measured differences of a few units in the last place (≤ 1.2e-7 here).
                let worst = zip(replies[i], alone).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-6, "sentence \(i): \(worst)")
            }
        }
        let stats = encoder.batchStatistics
        #expect(stats.mostRequestsInOneCollection == sentences.count, "\(stats)")
        #expect(stats.batches == 1, "eight rows, one forward pass: \(stats)")
    } }

    /// Completions from concurrent clients advance together (one decoding pass for all of them)
    /// and each gets the tokens it gets alone: greedy and seeded sampling, prompts of different
    /// lengths, log-probabilities. The queue is held busy while the requests arrive, so the four
    /// start in one batch whatever the timing.
    @Test func concurrentCompletionsBatchAndMatchOneAtATime() async throws { try await onTestExecutor {
        let (decoder, _) = try ServeFixtures.models()
        let server = try await TestServer.start([.decoder(decoder)])
        let release = DispatchSemaphore(value: 0)
        let holder: AsyncStream<Int> = try decoder.queue.submit { emit, _ in release.wait(); emit(1) }
        let bodies = ["\"prompt\": \"one\", \"max_tokens\": 12, \"temperature\": 0",
                      "\"prompt\": \"two words here and more\", \"max_tokens\": 7, \"temperature\": 0, \"logprobs\": 2",
                      "\"prompt\": \"three\", \"max_tokens\": 12, \"temperature\": 0.9, \"seed\": 5",
                      "\"prompt\": \"four more\", \"max_tokens\": 3, \"temperature\": 0"]
        let replies = try await withThrowingTaskGroup(of: (Int, TestClient.Reply).self) { group in
            for (i, b) in bodies.enumerated() {
                group.addTask { (i, try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \(b)}")) }
            }
            // Every request admitted (waiting behind the holder) before the queue is released.
            while decoder.queue.admission.inFlight < bodies.count + 1 { try await Task.sleep(for: .milliseconds(5)) }
            release.signal()
            var out: [Int: TestClient.Reply] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        for await _ in holder {}
        await server.stop()
        let samplers = [TokenSampler(), TokenSampler(), TokenSampler(temperature: 0.9, topP: 1, seed: 5), TokenSampler()]
        let prompts = ["one", "two words here and more", "three", "four more"], lengths = [12, 7, 12, 3]
        for i in bodies.indices {
            let text = replies[i]?.json["choices"]?.array?.first?["text"]?.string
            let alone = ServeEndpointTests.reference(decoder, prompt: decoder.codec.encode(prompts[i]), maxTokens: lengths[i], sampler: samplers[i])
            #expect(text == alone.text, "request \(i): \(replies[i]?.text ?? "no reply")")
        }
        let stats = decoder.queue.batchStatistics
        #expect(stats.largestBatch == bodies.count, "\(stats)")
    } }

    /// Concurrent completions (batched) and embeddings (batched) on two models at once give what
    /// each gives alone.
    @Test func decodersAndEncodersRunSideBySide() async throws { try await onTestExecutor {
        let (decoder, encoder) = try ServeFixtures.models()
        let server = try await TestServer.start([.decoder(decoder), .encoder(encoder)])
        let prompts = ["one", "two words", "three more words", "four"]
        let sentences = ["the cat sat", "a dog ran far away", "fox", "quick brown fox jumps over"]
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask {
                    let r = try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": \"\(p)\", \"max_tokens\": 10, \"temperature\": 0}")
                    return (i, r.json["choices"]?.array?.first?["text"]?.string ?? "<\(r.status)>")
                }
            }
            for (i, s) in sentences.enumerated() {
                group.addTask {
                    let r = try await server.post("/v1/embeddings", "{\"model\": \"tiny-bert\", \"input\": \"\(s)\"}")
                    return (100 + i, r.json["data"]?.array?.first?["embedding"]?.array?.map { String($0.number ?? .nan) }.joined(separator: ",") ?? "<\(r.status)>")
                }
            }
            var out: [Int: String] = [:]
            for try await (i, v) in group { out[i] = v }
            return out
        }
        await server.stop()
        for (i, p) in prompts.enumerated() {
            #expect(results[i] == ServeEndpointTests.reference(decoder, prompt: decoder.codec.encode(p), maxTokens: 10).text, "prompt \(i)")
        }
        let runtime = encoder.encoder
        for (i, s) in sentences.enumerated() {
            let got = (results[100 + i] ?? "").split(separator: ",").compactMap { Float(String($0)) }
            let alone = runtime.embeddings(tokenIds: [runtime.tokenizer.encode(s, maxLength: runtime.maxLength)]).scalars
            #expect(got.count == alone.count && zip(got, alone).allSatisfy { abs($0 - $1) <= 1e-6 }, "sentence \(i)")
        }
    } }
}
