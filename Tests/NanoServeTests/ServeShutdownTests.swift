import Foundation
import Testing
@testable import NanoServe

/// Graceful shutdown in process: a request in flight when `stop()` is called still gets its
/// whole answer, and the server takes no new connections afterwards.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServeShutdownTests {
    @Test func inFlightRequestsFinishAfterStop() async throws { try await onTestExecutor {
        let (decoder, _) = try ServeFixtures.models(maxConcurrency: 4)
        let server = try await TestServer.start([.decoder(decoder)])
        // Hold the decoder with a job that waits for the test, so the request below is in flight.
        let release = DispatchSemaphore(value: 0)
        let holder: AsyncStream<Int> = try decoder.queue.submit { emit, _ in release.wait(); emit(1) }
        // Child tasks (not `Task {}`) keep the test's executor.
        let reply = try await withThrowingTaskGroup(of: TestClient.Reply?.self) { group in
            group.addTask {
                try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": \"hi\", \"max_tokens\": 8, \"temperature\": 0, \"stream\": true}")
            }
            // Wait (at most 120 s: a full test run keeps the machine busy) until the server has
            // admitted it behind the holder.
            var deadline = Date().addingTimeInterval(120)
            while decoder.queue.admission.inFlight < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            guard decoder.queue.admission.inFlight == 2 else {
                release.signal()
                Issue.record("the request did not reach the decoder")
                return TestClient.Reply?.none
            }
            group.addTask { try await server.running.stop(); return nil }
            // Shutdown has begun once a new connection is refused; only then does the request run.
            var refused = false
            deadline = Date().addingTimeInterval(120)
            while !refused && Date() < deadline {
                do { _ = try await TestClient(port: server.port).request("GET", "/health"); try await Task.sleep(for: .milliseconds(5)) } catch { refused = true }
            }
            release.signal()
            for await _ in holder {}
            try #require(refused, "the server kept accepting connections after stop()")
            var reply: TestClient.Reply?
            for try await r in group where r != nil { reply = r }
            return reply
        }
        #expect(reply?.status == 200)
        #expect(reply?.events.last == "[DONE]", "\(reply?.text ?? "")")
    } }
}
