import Foundation
import Testing
@testable import NanoServe

/// Graceful shutdown in process: a request in flight when `stop()` is called still gets its
/// whole answer, and the server takes no new connections afterwards.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ServeShutdownTests {
    @Test func inFlightRequestsFinishAfterStop() async throws {
        let (decoder, _) = try ServeFixtures.models(maxConcurrency: 4)
        let server = try await TestServer.start([.decoder(decoder)])
        // Hold the decoder with a job that waits for the test, so the request below is in flight.
        let release = DispatchSemaphore(value: 0)
        let holder: AsyncStream<Int> = try decoder.queue.submit { emit, _ in release.wait(); emit(1) }
        let request = Task {
            try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": 8, \"temperature\": 0, \"stream\": true}")
        }
        // Wait (at most 30 s) until the server has admitted it behind the holder.
        let deadline = Date().addingTimeInterval(30)
        while decoder.queue.admission.inFlight < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try #require(decoder.queue.admission.inFlight == 2, "the request did not reach the decoder")
        let stopping = Task { try await server.running.stop() }
        // Shutdown has begun once a new connection is refused; only then does the request run.
        var refused = false
        while !refused && Date() < deadline {
            do { _ = try await TestClient(port: server.port).request("GET", "/health"); try await Task.sleep(for: .milliseconds(5)) } catch { refused = true }
        }
        try #require(refused, "the server kept accepting connections after stop()")
        release.signal()
        for await _ in holder {}
        let reply = try await request.value
        #expect(reply.status == 200)
        #expect(reply.events.last == "[DONE]", "\(reply.text)")
        try await stopping.value
    }
}
