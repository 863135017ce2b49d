import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// N concurrent clients, each sending one POST after another to an HTTP endpoint for a bounded
/// time (and a bounded count), recording every request's latency and outcome: the load test of
/// `bench serve`. Only loopback URLs are accepted.
struct LoadGenerator {
    struct Result {
        var latencies: [Double] = []
        var errors = 0
        var firstError: String?
        /// Σ `usage.completion_tokens` (decoders) or `usage.prompt_tokens` (encoders) of the successes.
        var tokens = 0
        var seconds = 0.0

        var requestsPerSecond: Double { Double(latencies.count) / max(seconds, 1e-9) }
        var tokensPerSecond: Double { Double(tokens) / max(seconds, 1e-9) }
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))]
        }
    }

    let url: URL
    let clients: Int
    let duration: Double
    let maxRequests: Int
    /// The JSON body of request `i` (clients take indices in turn).
    let body: (Int) -> [String: Any]
    /// Which `usage` field counts the tokens.
    let usageField: String

    func run() throws -> Result {
        guard url.host == "127.0.0.1" || url.host == "localhost" else {
            throw CLIErrors.BadInput("bench serve loads loopback servers only, not \(url)")
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = clients
        configuration.timeoutIntervalForRequest = 300
        let session = URLSession(configuration: configuration)
        let shared = Shared()
        let start = Date(), deadline = start.addingTimeInterval(duration)
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while Date() < deadline {
                    shared.lock.lock()
                    let index = shared.next
                    shared.next += 1
                    shared.lock.unlock()
                    if index >= maxRequests { return }
                    var request = URLRequest(url: url)
                    request.httpMethod = "POST"
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.httpBody = try? JSONSerialization.data(withJSONObject: body(index))
                    let sent = Date()
                    let (status, data, failure) = Self.send(session, request)
                    let latency = Date().timeIntervalSince(sent)
                    let usage = (data.flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any])?["usage"] as? [String: Any]
                    shared.lock.lock()
                    if status == 200, let tokens = usage?[usageField] as? Int {
                        shared.result.latencies.append(latency)
                        shared.result.tokens += tokens
                    } else {
                        shared.result.errors += 1
                        if shared.result.firstError == nil {
                            shared.result.firstError = failure ?? "HTTP \(status): \(data.map { String(decoding: $0.prefix(200), as: UTF8.self) } ?? "")"
                        }
                    }
                    shared.lock.unlock()
                }
            }
        }
        group.wait()
        shared.result.seconds = Date().timeIntervalSince(start)
        session.invalidateAndCancel()
        return shared.result
    }

    /// The clients' common state, under `lock`.
    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var result = Result()
    }

    /// One request, synchronously: status (0 when none came back), body, transport error.
    static func send(_ session: URLSession, _ request: URLRequest) -> (Int, Data?, String?) {
        final class Outcome: @unchecked Sendable { var value: (Int, Data?, String?) = (0, nil, nil) }
        let done = DispatchSemaphore(value: 0), outcome = Outcome()
        session.dataTask(with: request) { data, response, error in
            outcome.value = ((response as? HTTPURLResponse)?.statusCode ?? 0, data, error.map { "\($0)" })
            done.signal()
        }.resume()
        done.wait()
        return outcome.value
    }
}
