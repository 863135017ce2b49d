import Foundation
import Hummingbird
import Logging
import NanoCheckpoint
import NanoModels
@testable import NanoServe

/// A scripted OpenAI-compatible teacher on 127.0.0.1 (Hummingbird, a free port) for the
/// endpoint-teacher tests: `/tokenize` with its own tokenizer, and `/v1/completions` whose
/// distributions are a fixed function of the prompt (`FakeTeacherEndpoint.top`), in the legacy
/// shape with echo or in llama.cpp's `content` shape per position. `script` may answer a request
/// first (a 429, a 500, a hang); every request is counted.
final class FakeTeacherEndpoint: @unchecked Sendable {
    enum Answer { case normal, status(Int, message: String, retryAfter: String?), hang }

    let tokenizer: ByteLevelBPETokenizer
    /// Whether `/v1/completions` refuses `echo` as llama-server does (400, "Only no echo is supported").
    let refusesEcho: Bool
    /// Whether `/tokenize` gives pieces.
    let pieces: Bool
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var script: (_ completionIndex: Int) -> Answer = { _ in .normal }
    private var task: Task<Void, Error>?
    private(set) var port = 0

    init(tokenizer: ByteLevelBPETokenizer, refusesEcho: Bool = false, pieces: Bool = true) {
        self.tokenizer = tokenizer; self.refusesEcho = refusesEcho; self.pieces = pieces
    }

    var url: String { "http://127.0.0.1:\(port)" }
    func count(_ path: String) -> Int { lock.withLock { counts[path] ?? 0 } }
    /// Decides the answer to the n-th `/v1/completions` request (from 0).
    func setScript(_ s: @escaping (Int) -> Answer) { lock.withLock { script = s } }

    /// The fake's distribution after `prefix`: token (last + 1) % 256 with p 0.5, (7·last + 3) % 256
    /// with 0.25 (0.3 when it equals the first: then (last + 2) % 256 gets 0.25) and (last + 100) % 256
    /// with 0.125.
    static func top(after prefix: [Int]) -> [(id: Int, p: Double)] {
        let last = prefix.last ?? 0
        var second = (7 * last + 3) % 256
        if second == (last + 1) % 256 { second = (last + 2) % 256 }
        var third = (last + 100) % 256
        if third == second || third == (last + 1) % 256 { third = (last + 101) % 256 }
        return [((last + 1) % 256, 0.5), (second, 0.25), (third, 0.125)]
    }

    func start() async throws {
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(responder: Responder(fake: self),
                              configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: "fake-teacher"),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
                              logger: Self.quiet)
        // On the server's own executor, as NanoServer runs: in a full `swift test` other suites
        // keep Swift's cooperative threads busy, and the fake would not answer in time.
        if #available(macOS 15.0, *) {
            task = Task(executorPreference: ServeExecutor.shared) { defer { continuation.finish() }; try await app.runService(gracefulShutdownSignals: []) }
        } else {
            task = Task { defer { continuation.finish() }; try await app.runService(gracefulShutdownSignals: []) }
        }
        for await p in bound { port = p; return }
        try await task?.value
    }

    /// Cancelling the server logs its shutdown as errors: not this fake's business.
    private static let quiet: Logger = { var l = Logger(label: "fake-teacher"); l.logLevel = .critical; return l }()

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }

    fileprivate struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let fake: FakeTeacherEndpoint

        func respond(to request: Request, context: Context) async throws -> Response {
            var buffer = try await request.body.collect(upTo: 16 << 20)
            let body = (try? JSONParser.parse(buffer.readBytes(length: buffer.readableBytes) ?? [])) ?? .null
            let path = request.uri.path
            let index: Int = fake.lock.withLock { defer { fake.counts[path, default: 0] += 1 }; return fake.counts[path] ?? 0 }
            switch path {
            case "/tokenize": return json(fake.tokenize(body))
            case "/v1/completions":
                switch fake.lock.withLock({ fake.script })(index) {
                case .normal: return fake.completion(body)
                case .status(let code, let message, let retryAfter):
                    var r = json(.object([("error", .object([("message", .string(message)), ("type", .string("fake"))]))]), status: code)
                    if let retryAfter { r.headers[.retryAfter] = retryAfter }
                    return r
                case .hang:
                    try await Task.sleep(for: .seconds(60))
                    return json(.null)
                }
            default: return json(.object([("error", .object([("message", .string("no route"))]))]), status: 404)
            }
        }
    }

    private func tokenize(_ body: JSONValue) -> JSONValue {
        let ids = tokenizer.encode(body["content"]?.string ?? body["prompt"]?.string ?? "", allowSpecial: false)
        return .object([("tokens", .array(ids.map { id in
            guard pieces else { return .number(Double(id)) }
            return .object([("id", .number(Double(id))), ("piece", .array(tokenizer.bytes(ofToken: id).map { .number(Double($0)) }))])
        }))])
    }

    private func completion(_ body: JSONValue) -> Response {
        let prompt = body["prompt"]?.array?.compactMap(\.int) ?? []
        let echo = body["echo"]?.bool ?? false
        if echo && refusesEcho {
            return json(.object([("error", .object([("code", .number(400)), ("message", .string("Only no echo is supported")), ("type", .string("invalid_request_error"))]))]), status: 400)
        }
        if refusesEcho {
            // llama.cpp's shape: the generated token's alternatives with ids and bytes.
            let top = Self.top(after: prompt)
            let entries: [JSONValue] = top.map { t in
                .object([("id", .number(Double(t.id))), ("token", .string("")), ("bytes", .array(tokenizer.bytes(ofToken: t.id).map { .number(Double($0)) })),
                         ("logprob", .number(Foundation.log(t.p)))])
            }
            let item = JSONValue.object([("id", .number(Double(top[0].id))), ("token", .string("")), ("logprob", .number(Foundation.log(top[0].p))),
                                         ("top_logprobs", .array(entries))])
            return json(.object([("choices", .array([.object([("text", .string("")), ("logprobs", .object([("content", .array([item]))]))])]))]))
        }
        // The legacy shape: null for the first prompt token, then each position's table.
        let positions = (echo ? Array(1..<prompt.count) : []) + [prompt.count]
        let tables: [JSONValue] = (echo ? [.null] : []) + positions.map { end in
            .object(Self.top(after: Array(prompt[0..<end])).map { ("token_id:\($0.id)", .number(Foundation.log($0.p))) })
        }
        return json(.object([("choices", .array([.object([("text", .string("")), ("logprobs", .object([("top_logprobs", .array(tables))]))])]))]))
    }

    private static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
    private func json(_ value: JSONValue, status: Int = 200) -> Response { Self.json(value, status: status) }
}

extension FakeTeacherEndpoint.Responder {
    func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
}
