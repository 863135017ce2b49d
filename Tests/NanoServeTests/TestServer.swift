import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NanoCheckpoint
@testable import NanoServe

/// A `NanoServer` running in this process on 127.0.0.1 and a free port, with a client.
final class TestServer: @unchecked Sendable {
    let port: Int
    let client: TestClient
    private let task: Task<Void, Error>

    private init(port: Int, task: Task<Void, Error>) {
        self.port = port; self.task = task
        client = TestClient(port: port)
    }

    typealias Reply = TestClient.Reply

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        try await client.request(method, path, body: body, headers: headers)
    }

    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await client.post(path, json, headers: headers)
    }

    /// Starts a server for `models`; fails after 30 s without a port.
    static func start(_ models: [ServedModel], apiKey: String? = nil, maxBodyBytes: Int = 1 << 20) async throws -> TestServer {
        var configuration = ServeConfiguration()
        configuration.port = 0
        configuration.apiKey = apiKey
        configuration.maxBodyBytes = maxBodyBytes
        let server = try NanoServer(models: models, configuration: configuration)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run { _, port in continuation.yield(port) } }
        let timeout = Task { try await Task.sleep(for: .seconds(30)); continuation.finish() }
        var port: Int?
        for await p in ports { port = p; break }
        timeout.cancel()
        guard let port, port > 0 else {
            task.cancel()
            throw APIError(status: 0, message: "the test server did not start")
        }
        return TestServer(port: port, task: task)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
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
