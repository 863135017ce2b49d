import Foundation
import NanoCheckpoint
import NanoModels

/// A language-model teacher behind an OpenAI-compatible endpoint: checks that the endpoint
/// tokenizes like the student (`checkTokenizer`, before any log-probability request), then
/// fetches each window's next-token distributions as top-k student ids and probabilities
/// (`distribution`). Thread-safe: `fillTeacherDistributions` calls it from `concurrency` threads.
///
/// The distributions are the server's temperature-1 log-probabilities: p = exp(logprob) for its
/// top `top_logprobs`, of which the `k` most likely are kept; the remainder is 1 − Σ p of the
/// kept ones that map to student tokens.
final class EndpointTeacher: @unchecked Sendable {
    let options: EndpointTeacherOptions
    let http: EndpointTeacherHTTP
    private(set) var vocabulary: EndpointTeacherVocabulary
    private let lock = NSLock()
    private var resolved: EndpointTeacherOptions.FetchProtocol
    private var checked = false
    private var positions = 0
    var log: (String) -> Void = { _ in }

    /// `seed` seeds the retry jitter only.
    init(_ options: EndpointTeacherOptions, tokenizer: ByteLevelBPETokenizer, seed: UInt64) throws {
        self.options = options
        var key: String?
        if let variable = options.apiKeyEnvironment {
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                throw TrainingError.endpoint(url: options.url, window: nil, reason: "api_key_env names \(variable), which is not set")
            }
            key = value
        }
        http = EndpointTeacherHTTP(base: options.base, apiKey: key, timeout: options.timeoutSeconds, retries: options.retries,
                                   concurrency: options.concurrency, seed: seed)
        vocabulary = EndpointTeacherVocabulary(tokenizer)
        resolved = options.fetchProtocol
    }

    /// What keys this teacher in the cache: the model name and the student's vocabulary (the
    /// tokenizer check guarantees the endpoint splits text into those tokens). Not the URL, so a
    /// cache survives moving the teacher to another server.
    func fingerprint(studentVocabulary: String) -> String {
        var hash = SHA256()
        hash.update(Array("openai-endpoint\u{0}\(options.model)\u{0}\(studentVocabulary)".utf8))
        return hash.finalize()
    }

    /// The protocol in use (`auto` until the first window settles it).
    var fetchProtocol: EndpointTeacherOptions.FetchProtocol { lock.withLock { resolved } }
    /// Positions fetched so far.
    var positionsFetched: Int { lock.withLock { positions } }

    /// Texts beside the training text that a tokenizer must split alike: whitespace runs, digits,
    /// accents, CJK, an emoji. (No special-token texts: vLLM's `/tokenize` cannot read them as
    /// plain text.)
    static let oddProbes = ["  two  spaces\tand a tab\n\nnew lines\r\n", "Numbers 12345 3.14159 -42, 1e-5; 2026-12-08.",
                            "Ünïcödé naïve café — «quotes» ‘single’", "日本語のテキスト 中文 한국어", "emoji 🙂👍🏽 and ∑∫√ symbols",
                            "CamelCaseWords and snake_case_words and ALLCAPS"]

    /// `POST /tokenize` (llama.cpp's and vLLM's shape) of the training text and the odd probes,
    /// compared with the student's tokens; a mismatch throws, naming the first differing token.
    func checkTokenizer(trainingText: String) throws {
        if lock.withLock({ checked }) { return }
        let probes = [(trainingText, "the training text", false)] + Self.oddProbes.enumerated().map { ($1, "probe \($0) \($1.debugDescription)", true) }
        for (text, name, lenient) in probes {
            let tokens = try tokenize(text)
            if let mismatch = vocabulary.align(text, name: name, endpoint: tokens, lenient: lenient) {
                throw TrainingError.endpoint(url: options.url, window: nil, reason: mismatch + "; checked with /tokenize before any log-probability request")
            }
        }
        // Special tokens never occur in the text, and llama.cpp gives them no bytes: their ids
        // come from `/tokenize` of each one's text read as special.
        let tokenizer = vocabulary.tokenizer
        for id in tokenizer.specialTokenIDs.sorted() {
            let tokens = try tokenize(tokenizer.tokens[id], parseSpecial: true)
            if tokens.count == 1 { vocabulary.pairSpecial(student: id, endpoint: tokens[0].id) }
        }
        lock.withLock { checked = true }
    }

    private func tokenize(_ text: String, parseSpecial: Bool = false) throws -> [EndpointTeacherVocabulary.Token] {
        // `content` for llama.cpp, `prompt` for vLLM and nanoforge serve; no BOS, special-token
        // texts read as plain text (the student's encode(allowSpecial: false)) unless `parseSpecial`.
        let body = JSONValue.object([("model", .string(options.model)), ("content", .string(text)), ("prompt", .string(text)),
                                     ("add_special", .bool(false)), ("add_special_tokens", .bool(false)),
                                     ("parse_special", .bool(parseSpecial)), ("with_pieces", .bool(true))])
        let reply = try call(window: nil) { try http.post("/tokenize", body) }
        guard let items = reply["tokens"]?.array else {
            throw TrainingError.endpoint(url: options.url, window: nil, reason: "/tokenize gave no `tokens` list: \(reply.serialized.prefix(200))")
        }
        return try items.map { item in
            if let id = item.int { return .init(id: id, piece: nil) }
            guard let id = item["id"]?.int else {
                throw TrainingError.endpoint(url: options.url, window: nil, reason: "/tokenize gave a token without an id: \(item.serialized.prefix(100))")
            }
            switch item["piece"] {
            case .string(let s)?: return .init(id: id, piece: Array(s.utf8))
            case .array(let b)?: return .init(id: id, piece: b.compactMap { $0.int.map { UInt8(truncatingIfNeeded: $0) } })
            default: return .init(id: id, piece: nil)
            }
        }
    }

    /// Window `window`'s distributions: `inputs` student ids, [inputs.count] rows of `k` slots.
    func distribution(window: Int, inputs: [Int], k: Int) throws -> TopKDistribution {
        precondition(lock.withLock { checked }, "EndpointTeacher: checkTokenizer first")
        let (ids, missing) = vocabulary.teacherIds(inputs)
        if let missing {
            throw TrainingError.endpoint(url: options.url, window: window, reason: "the student's token \(EndpointTeacherVocabulary.show(vocabulary.studentBytes[missing])) (id \(missing)) has no endpoint id: it was not in the text /tokenize checked")
        }
        let ask = max(options.topLogprobs ?? k, k)
        var rows: [[EndpointTeacherReply.Entry]]
        switch fetchProtocol {
        case .echo: rows = try echo(window: window, ids, ask: ask, probe: false)!
        case .perPosition: rows = try perPosition(window: window, ids, ask: ask)
        case .auto:
            if let echoed = try echo(window: window, ids, ask: ask, probe: true) {
                lock.withLock { resolved = .echo }
                rows = echoed
            } else {
                lock.withLock { resolved = .perPosition }
                rows = try perPosition(window: window, ids, ask: ask)
            }
        }
        lock.withLock { positions += rows.count }
        return distribution(rows, k: k)
    }

    /// The rows as top-k student ids: the k most likely alternatives (by log-probability, the
    /// server's order on ties), each mapped to a student id or left empty.
    func distribution(_ rows: [[EndpointTeacherReply.Entry]], k: Int) -> TopKDistribution {
        var ids = [Int32](repeating: -1, count: rows.count * k), probabilities = [Float](repeating: 0, count: rows.count * k)
        var remainder = [Float](repeating: 1, count: rows.count)
        for (r, row) in rows.enumerated() {
            let sorted = row.enumerated().sorted { ($0.element.logprob, -$0.offset) > ($1.element.logprob, -$1.offset) }.map(\.element)
            var kept = 0.0, used = Set<Int>()
            for (slot, e) in sorted.prefix(k).enumerated() {
                guard let s = vocabulary.studentId(e), used.insert(s).inserted else { continue }
                let p = Foundation.exp(e.logprob)
                ids[r * k + slot] = Int32(s)
                probabilities[r * k + slot] = Float(p)
                kept += p
            }
            remainder[r] = Float(max(0, 1 - kept))
        }
        return TopKDistribution(rows: rows.count, k: k, ids: ids, probabilities: probabilities, remainder: remainder)
    }

    /// One request with `echo`: row j is the prompt's position j + 1, the last row the generated
    /// token's. With `probe` (the `auto` protocol's first try) a refusal that names echo, or a
    /// reply without the prompt's log-probabilities, returns nil.
    private func echo(window: Int, _ ids: [Int], ask: Int, probe: Bool) throws -> [[EndpointTeacherReply.Entry]]? {
        var members = request(ids, ask: ask)
        members += [("echo", .bool(true))]
        if vocabulary.sameIds { members.append(("return_tokens_as_token_ids", .bool(true))) }
        let body = JSONValue.object(members)
        let reply: JSONValue
        if probe {
            do { reply = try http.post("/v1/completions", body, retrying: false) } catch let f as EndpointTeacherHTTP.Failure {
                if f.status.map({ (400..<600).contains($0) && $0 != 429 }) == true, f.message.lowercased().contains("echo") {
                    log("\(options.url) refuses echo (\(f.message)): one request per position from now on")
                    return nil
                }
                reply = try call(window: window) { try http.post("/v1/completions", body) }
            }
        } else {
            reply = try call(window: window) { try http.post("/v1/completions", body) }
        }
        let positions = try parse(reply, window: window)
        guard positions.count >= ids.count + 1 else {
            if probe {
                log("\(options.url) ignores echo (\(positions.count) positions for a prompt of \(ids.count)): one request per position from now on")
                return nil
            }
            throw TrainingError.endpoint(url: options.url, window: window, reason: "echo gave \(positions.count) positions of log-probabilities for a prompt of \(ids.count) tokens + 1: use protocol: per_position")
        }
        return try (1...ids.count).map { j in
            guard let row = positions[j] else { throw TrainingError.endpoint(url: options.url, window: window, reason: "no log-probabilities at position \(j)") }
            return row
        }
    }

    /// One request per position: the prefix up to it, `max_tokens: 1`; the generated token's
    /// alternatives are the position's distribution. Sequential, so the server's prompt cache
    /// (llama.cpp's `cache_prompt`) makes each about one decoding step.
    private func perPosition(window: Int, _ ids: [Int], ask: Int) throws -> [[EndpointTeacherReply.Entry]] {
        try ids.indices.map { j in
            let reply = try call(window: window) { try http.post("/v1/completions", .object(request(Array(ids[0...j]), ask: ask))) }
            guard let row = try parse(reply, window: window).last ?? nil else {
                throw TrainingError.endpoint(url: options.url, window: window, reason: "no log-probabilities for the token after position \(j)")
            }
            return row
        }
    }

    private func request(_ ids: [Int], ask: Int) -> [(key: String, value: JSONValue)] {
        [("model", .string(options.model)), ("prompt", .array(ids.map { .number(Double($0)) })), ("max_tokens", .number(1)),
         ("logprobs", .number(Double(ask))), ("n_probs", .number(Double(ask))), ("temperature", .number(0)),
         ("cache_prompt", .bool(true))]
    }

    private func parse(_ reply: JSONValue, window: Int) throws -> [[EndpointTeacherReply.Entry]?] {
        do { return try EndpointTeacherReply.positions(reply) } catch {
            throw TrainingError.endpoint(url: options.url, window: window, reason: "\(error)")
        }
    }

    /// Runs a request, turning an HTTP failure into a `TrainingError` naming the endpoint and window.
    private func call(window: Int?, _ body: () throws -> JSONValue) throws -> JSONValue {
        do { return try body() } catch let f as EndpointTeacherHTTP.Failure {
            let retried = http.retriesDone > 0 ? " (after \(http.retriesDone) retries in all)" : ""
            throw TrainingError.endpoint(url: options.url, window: window, reason: "\(f)\(retried)")
        }
    }
}
