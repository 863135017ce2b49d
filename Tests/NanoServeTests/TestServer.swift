import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NanoCheckpoint
@testable import NanoServe

/// Runs `body` on a dispatch queue of its own rather than on Swift's cooperative threads: in a
/// full `swift test` run other suites keep those threads busy with long synchronous work, and a
/// test waiting on HTTP replies would wait for them (`ServeExecutor`).
func onTestExecutor<T>(_ body: () async throws -> T) async throws -> T {
    if #available(macOS 15.0, *) {
        return try await withTaskExecutorPreference(testExecutor) { try await body() }
    }
    return try await body()
}

@available(macOS 15.0, *)
private let testExecutor = ServeExecutor(label: "nanoforge.serve.tests")

/// A `NanoServer` running in this process on 127.0.0.1 and a free port, with a client.
final class TestServer: @unchecked Sendable {
    let port: Int
    let client: TestClient
    let running: RunningServer

    private init(_ running: RunningServer) {
        self.running = running
        port = running.port
        client = TestClient(port: port)
    }

    typealias Reply = TestClient.Reply

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        try await client.request(method, path, body: body, headers: headers)
    }

    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await client.post(path, json, headers: headers)
    }

    /// Starts a server for `models` on a free port.
    static func start(_ models: [ServedModel], apiKey: String? = nil, maxBodyBytes: Int = 1 << 20) async throws -> TestServer {
        var configuration = ServeConfiguration()
        configuration.port = 0
        configuration.apiKey = apiKey
        configuration.maxBodyBytes = maxBodyBytes
        let server = try NanoServer(models: models, configuration: configuration)
        return TestServer(try await server.start())
    }

    /// Graceful shutdown (requests in flight finish first).
    func stop() async {
        try? await running.stop()
    }
}

/// HTTP requests to a server on 127.0.0.1 (URLSession, each bounded to 120 s).
struct TestClient: Sendable {
    let port: Int
    private let session: URLSession

    init(port: Int) {
        self.port = port
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 120
        // URLSession's default of 6 connections per host would queue concurrent clients here.
        configuration.httpMaximumConnectionsPerHost = 32
        session = URLSession(configuration: configuration)
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as JSON (`.null` when it is not).
        var json: JSONValue { (try? JSONParser.parse(Array(body))) ?? .null }
        /// A stream's `data:` payloads, `[DONE]` included.
        var events: [String] {
            text.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { $0.hasPrefix("data: ") ? String($0.dropFirst(6)) : $0 }
        }
    }

    /// `method path` with `body` (raw bytes) and extra headers.
    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// POST of a JSON body written as text.
    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, body: Data(json.utf8), headers: headers)
    }
}
