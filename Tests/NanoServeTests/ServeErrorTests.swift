import Foundation
import Testing
import NanoCheckpoint
@testable import NanoServe

/// Every row of docs/serve.md's bad-request table: the status, OpenAI's error JSON with its
/// `type`, `code` and `param`, and the server still answering afterwards.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServeErrorTests {
    struct Row: CustomStringConvertible {
        let method: String, path: String, body: String?
        let status: Int, code: String, param: String?
        var headers: [String: String] = [:]
        var description: String { "\(method) \(path) \(body ?? "")" }
    }

    static let rows: [Row] = [
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": ", status: 400, code: "invalid_json", param: nil),
        Row(method: "POST", path: "/v1/completions", body: "[1, 2]", status: 400, code: "invalid_json", param: nil),
        Row(method: "POST", path: "/v1/completions", body: "{\"prompt\": \"hi\"}", status: 400, code: "missing_required_parameter", param: "model"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": 7, \"prompt\": \"hi\"}", status: 400, code: "invalid_type", param: "model"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": \"ten\"}", status: 400, code: "invalid_type", param: "max_tokens"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"temperature\": \"hot\"}", status: 400, code: "invalid_type", param: "temperature"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": {\"a\": 1}}", status: 400, code: "invalid_type", param: "prompt"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"stop\": [1]}", status: 400, code: "invalid_type", param: "stop"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"stream\": \"yes\"}", status: 400, code: "invalid_type", param: "stream"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"temperature\": 3}", status: 400, code: "invalid_value", param: "temperature"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"n\": 2}", status: 400, code: "invalid_value", param: "n"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": [5, 300]}", status: 400, code: "invalid_value", param: "prompt"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"logprobs\": 50}", status: 400, code: "invalid_value", param: "logprobs"),
        Row(method: "POST", path: "/v1/chat/completions", body: "{\"model\": \"tiny-llama\", \"messages\": \"hi\"}", status: 400, code: "invalid_type", param: "messages"),
        Row(method: "POST", path: "/v1/chat/completions", body: "{\"model\": \"tiny-llama\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}", status: 400, code: "invalid_type", param: "messages[0].content"),
        Row(method: "POST", path: "/v1/embeddings", body: "{\"model\": \"tiny-bert\", \"input\": 5}", status: 400, code: "invalid_type", param: "input"),
        Row(method: "POST", path: "/v1/embeddings", body: "{\"model\": \"tiny-bert\", \"input\": \"a\", \"encoding_format\": \"int8\"}", status: 400, code: "invalid_value", param: "encoding_format"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"gpt-4\", \"prompt\": \"hi\"}", status: 404, code: "model_not_found", param: "model"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": 95}", status: 400, code: "context_length_exceeded", param: "prompt"),
        Row(method: "POST", path: "/v1/chat/completions", body: "{\"model\": \"tiny-llama\", \"messages\": [{\"role\": \"user\", \"content\": \"\(String(repeating: "x", count: 120))\"}]}", status: 400, code: "context_length_exceeded", param: "messages"),
        Row(method: "POST", path: "/v1/completions", body: "{\"model\": \"tiny-bert\", \"prompt\": \"hi\"}", status: 400, code: "model_not_supported", param: "model"),
        Row(method: "POST", path: "/v1/chat/completions", body: "{\"model\": \"tiny-bert\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", status: 400, code: "model_not_supported", param: "model"),
        Row(method: "POST", path: "/v1/embeddings", body: "{\"model\": \"tiny-llama\", \"input\": \"hi\"}", status: 400, code: "model_not_supported", param: "model"),
        Row(method: "GET", path: "/v1/nothing", body: nil, status: 404, code: "not_found", param: nil),
        Row(method: "GET", path: "/v1/completions", body: nil, status: 405, code: "method_not_allowed", param: nil),
        Row(method: "POST", path: "/v1/models", body: "{}", status: 405, code: "method_not_allowed", param: nil),
        Row(method: "POST", path: "/v1/embeddings", body: "{\"model\": \"tiny-bert\", \"input\": \"\(String(repeating: "a ", count: 600))\"}", status: 413, code: "request_too_large", param: nil),
    ]

    static func check(_ reply: TestServer.Reply, _ row: Row) {
        #expect(reply.status == row.status, "\(row): \(reply.text)")
        let error = reply.json["error"]
        #expect(error?["code"]?.string == row.code, "\(row): \(reply.text)")
        #expect(error?["param"]?.string == row.param, "\(row): \(reply.text)")
        #expect(error?["message"]?.string?.isEmpty == false)
        #expect(error?["type"]?.string != nil)
        #expect(reply.headers["content-type"] == "application/json", "\(row)")
    }

    @Test func everyBadRequestGetsItsStatusAndErrorJSON() async throws { try await onTestExecutor {
        let (decoder, encoder) = try ServeFixtures.models()
        let server = try await TestServer.start([.decoder(decoder), .encoder(encoder)], maxBodyBytes: 1000)
        for row in Self.rows {
            let reply = try await server.request(row.method, row.path, body: row.body.map { Data($0.utf8) }, headers: row.headers)
            Self.check(reply, row)
            if row.status == 405 { #expect(reply.headers["allow"] != nil, "\(row)") }
        }
        // Still up, and still right.
        let ok = try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": 2}")
        #expect(ok.status == 200, "\(ok.text)")
        await server.stop()
    } }

    @Test func apiKeyIsRequiredWhenSet() async throws { try await onTestExecutor {
        let (decoder, encoder) = try ServeFixtures.models()
        let server = try await TestServer.start([.decoder(decoder), .encoder(encoder)], apiKey: "s3cret")
        let body = "{\"model\": \"tiny-bert\", \"input\": \"the cat\"}"
        let missing = try await server.post("/v1/embeddings", body)
        Self.check(missing, Row(method: "POST", path: "/v1/embeddings", body: body, status: 401, code: "invalid_api_key", param: nil))
        let wrong = try await server.post("/v1/embeddings", body, headers: ["Authorization": "Bearer s3cres"])
        Self.check(wrong, Row(method: "POST", path: "/v1/embeddings", body: body, status: 401, code: "invalid_api_key", param: nil))
        let models = try await server.request("GET", "/v1/models")
        #expect(models.status == 401)
        let right = try await server.post("/v1/embeddings", body, headers: ["Authorization": "Bearer s3cret"])
        #expect(right.status == 200, "\(right.text)")
        let health = try await server.request("GET", "/health")
        #expect(health.status == 200, "/health needs no key")
        await server.stop()
    } }

    /// A decoder with `--max-concurrency 1` busy with one request refuses the next with 429.
    @Test func aFullQueueIsA429() async throws { try await onTestExecutor {
        let (decoder, _) = try ServeFixtures.models(maxConcurrency: 1)
        let server = try await TestServer.start([.decoder(decoder)])
        // Hold the decoder's only slot with a job that waits for the test.
        let release = DispatchSemaphore(value: 0)
        let holder: AsyncStream<Int> = try decoder.queue.submit { emit, _ in release.wait(); emit(1) }
        let body = "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": 2}"
        let busy = try await server.post("/v1/completions", body)
        Self.check(busy, Row(method: "POST", path: "/v1/completions", body: body, status: 429, code: "server_busy", param: nil))
        release.signal()
        for await _ in holder {}
        let ok = try await server.post("/v1/completions", body)
        #expect(ok.status == 200, "\(ok.text)")
        await server.stop()
    } }
}
