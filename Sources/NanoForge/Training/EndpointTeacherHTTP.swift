import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NanoCheckpoint
import NanoTensor

/// Blocking JSON POSTs to a teacher endpoint with a timeout and retries: a 429, a 5xx, a
/// connection error or a timeout is retried up to `retries` times after 0.5 s · 2^attempt (at
/// most 30 s, times a jitter in [0.5, 1)) or the server's `Retry-After` seconds (at most 300);
/// any other non-2xx reply fails at once with the server's error message. Safe to call from
/// several threads (one URLSession, connections per host = concurrency).
final class EndpointTeacherHTTP: @unchecked Sendable {
    let base: String
    private let apiKey: String?
    private let timeout: Double
    private let retries: Int
    private let session: URLSession
    private let lock = NSLock()
    private var jitter: RandomGenerator
    private var retryCount = 0
    /// Waits before each retry; tests replace it to run without sleeping.
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }

    init(base: String, apiKey: String?, timeout: Double, retries: Int, concurrency: Int, seed: UInt64) {
        self.base = base; self.apiKey = apiKey; self.timeout = timeout; self.retries = retries
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = max(concurrency, 1)
        session = URLSession(configuration: configuration)
        jitter = RandomGenerator(seed: seed)
    }

    deinit { session.invalidateAndCancel() }

    /// Retries done so far (all requests together).
    var retriesDone: Int { lock.withLock { retryCount } }

    /// A non-2xx reply that is not retried (or no longer): its status and the server's message.
    struct Failure: Error, CustomStringConvertible {
        let status: Int?
        let message: String
        var description: String { status.map { "HTTP \($0): \(message)" } ?? message }
    }

    /// POSTs `body` to `path` and returns the reply's JSON. `retrying: false` fails at once on any
    /// error (the `auto` protocol's echo probe).
    func post(_ path: String, _ body: JSONValue, retrying: Bool = true) throws -> JSONValue {
        var attempt = 0
        while true {
            let outcome = send(path, Data(body.serialized.utf8))
            switch outcome {
            case .reply(let status, let data, _) where (200..<300).contains(status):
                do { return try JSONParser.parse(Array(data), maxDepth: 128) } catch {
                    throw Failure(status: status, message: "the reply is not JSON (\(error)): \(Self.excerpt(data))")
                }
            case .reply(let status, let data, let retryAfter):
                let failure = Failure(status: status, message: Self.errorMessage(data))
                guard retrying, status == 429 || status >= 500, attempt < retries else { throw failure }
                wait(attempt: attempt, retryAfter: retryAfter)
            case .failed(let reason):
                guard retrying, attempt < retries else { throw Failure(status: nil, message: reason) }
                wait(attempt: attempt, retryAfter: nil)
            }
            attempt += 1
        }
    }

    private enum Outcome {
        case reply(status: Int, body: Data, retryAfter: Double?)
        case failed(String)
    }

    private func send(_ path: String, _ body: Data) -> Outcome {
        guard let url = URL(string: base + path) else { return .failed("bad URL \(base + path)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        let done = DispatchSemaphore(value: 0)
        let box = OutcomeBox()
        let task = session.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse, error == nil {
                let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                box.value = .reply(status: http.statusCode, body: data ?? Data(), retryAfter: retryAfter)
            } else if let error = error as? URLError, error.code == .timedOut {
                box.value = .failed("timedOut")
            } else {
                box.value = .failed(error.map { "\($0.localizedDescription)" } ?? "no HTTP reply")
            }
            done.signal()
        }
        task.resume()
        // URLSession's timeout is an idle timeout; this bounds the whole request as well.
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 5)
            return .failed("no reply within \(timeout) s (timeout_s)")
        }
        if case .failed("timedOut")? = box.value { return .failed("no reply within \(timeout) s (timeout_s)") }
        return box.value ?? .failed("no HTTP reply")
    }

    private final class OutcomeBox: @unchecked Sendable { var value: Outcome? }

    private func wait(attempt: Int, retryAfter: Double?) {
        let seconds: Double = lock.withLock {
            retryCount += 1
            if let retryAfter { return min(max(retryAfter, 0), 300) }
            return min(0.5 * Double(1 << min(attempt, 10)), 30) * Double(jitter.uniform(0.5, 1))
        }
        sleep(seconds)
    }

    /// OpenAI's `{"error": {"message": …}}`, llama.cpp's and vLLM's alike, or the body's start.
    static func errorMessage(_ data: Data) -> String {
        if let json = try? JSONParser.parse(Array(data)) {
            if let m = json["error"]?["message"]?.string { return m }
            if let m = json["error"]?.string ?? json["message"]?.string ?? json["detail"]?.string { return m }
        }
        return excerpt(data)
    }

    static func excerpt(_ data: Data) -> String {
        let text = String(decoding: data.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }
}
