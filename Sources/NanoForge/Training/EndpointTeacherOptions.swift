import Foundation

/// A language-model teacher behind an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp's
/// `llama-server`, `nanoforge serve`): a `distill` teacher entry with `endpoint` instead of `path`.
/// Its next-token distributions are fetched once into the teacher cache (`EndpointTeacher`).
public struct EndpointTeacherOptions: Equatable, Sendable {
    /// How prompt log-probabilities are asked for.
    public enum FetchProtocol: String, RecipeChoice {
        /// `echo` first; on a refusal that names echo, `per_position`.
        case auto
        /// One `/v1/completions` request per window: the window's ids with `echo`, `logprobs: K`
        /// and `max_tokens: 1` (the prompt's log-probabilities, the last position's from the
        /// generated token).
        case echo
        /// One request per position: the window's prefix, `max_tokens: 1`, `logprobs: K`,
        /// `cache_prompt` (for servers without echo, as llama.cpp's, whose prompt cache makes
        /// each request about one decoding step).
        case perPosition = "per_position"
    }

    /// The server's base URL (`http://host:8080`; a trailing `/v1` is accepted).
    public var url: String
    /// The `model` field of each request.
    public var model: String
    /// The environment variable holding the API key (sent as `Authorization: Bearer`), if any.
    public var apiKeyEnvironment: String?
    /// Alternatives asked for per position; nil: `teacher_top_k`. Never below it.
    public var topLogprobs: Int?
    public var fetchProtocol = FetchProtocol.auto
    /// Requests in flight at once (windows fetched in parallel).
    public var concurrency = 4
    /// Seconds one request may take before it is abandoned (and retried).
    public var timeoutSeconds = 120.0
    /// Retries of a request after a 429, a 5xx, a connection error or a timeout.
    public var retries = 5

    public init(url: String, model: String) { self.url = url; self.model = model }

    /// The base URL without a trailing `/` or `/v1`.
    var base: String {
        var s = url
        while s.hasSuffix("/") { s.removeLast() }
        if s.hasSuffix("/v1") { s.removeLast(3) }
        return s
    }

    /// The fields of a teacher entry that only an endpoint teacher has.
    static let endpointKeys = ["endpoint", "model", "api_key_env", "top_logprobs", "protocol", "concurrency", "timeout_s", "retries"]

    /// Reads the endpoint fields of a teacher entry (`endpoint` present).
    static func decode(_ map: RecipeMapping) throws -> EndpointTeacherOptions {
        let urlNode = try map.required("endpoint")
        let url = try urlNode.string()
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw RecipeError.outOfRange(urlNode.location, allowed: "an http:// or https:// URL", found: url)
        }
        var o = EndpointTeacherOptions(url: url, model: try map.required("model", hint: "the name the server gives the model (GET /v1/models)").string())
        o.apiKeyEnvironment = try map.optional("api_key_env").map { try $0.string() }
        o.topLogprobs = try map.optional("top_logprobs").map { try $0.int(atLeast: 1) }
        o.fetchProtocol = try map.optional("protocol", default: .auto) { try $0.choice(FetchProtocol.self) }
        o.concurrency = try map.optional("concurrency", default: 4) { try $0.int(1...256) }
        o.timeoutSeconds = try map.optional("timeout_s", default: 120) { try $0.number(.greaterThan(0)) }
        o.retries = try map.optional("retries", default: 5) { try $0.int(0...100) }
        return o
    }

    /// Writes the endpoint fields into a teacher entry.
    func encode(into e: inout RecipeEncoding) {
        e.set("endpoint", url)
        e.set("model", model)
        e.set("api_key_env", apiKeyEnvironment)
        e.set("top_logprobs", topLogprobs)
        if fetchProtocol != .auto { e.set("protocol", fetchProtocol) }
        if concurrency != 4 { e.set("concurrency", concurrency) }
        if timeoutSeconds != 120 { e.set("timeout_s", timeoutSeconds) }
        if retries != 5 { e.set("retries", retries) }
    }

    /// Each item of `teachers`, as docs/recipes.md lists it.
    static let fields: [RecipeField] = [
        RecipeField("path", "string", allowed: "a model file or folder", "A local teacher checkpoint; give either `path` or `endpoint`."),
        RecipeField("weight", "number", default: "1", allowed: "> 0", "The teacher's weight among several."),
        RecipeField("endpoint", "string", allowed: "an http:// or https:// URL",
                    "Language models: a teacher behind an OpenAI-compatible server (vLLM, llama.cpp's llama-server, nanoforge serve). Before any log-probability request its `/tokenize` must split the training text (and, for tokens the student has, a few odd probes) into the student's tokens, else the run stops naming the first differing token. Its top-k distributions go into the teacher cache like a local teacher's, keyed by `model` and the student's vocabulary, not the URL (docs/scale-out.md). Only temperature 1 (the server's log-probabilities)."),
        RecipeField("model", "string", allowed: "a model name the server serves", "With `endpoint` (required): the `model` field of each request."),
        RecipeField("api_key_env", "string", allowed: "an environment variable name", "With `endpoint`: the variable holding the API key, sent as `Authorization: Bearer`."),
        RecipeField("top_logprobs", "integer", default: "teacher_top_k", allowed: "≥ teacher_top_k",
                    "With `endpoint`: alternatives asked for per position; the cache keeps the `teacher_top_k` most likely (servers cap it: vLLM and nanoforge serve at 20 by default)."),
        RecipeField("protocol", "string", default: "auto", allowed: RecipeField.choices(FetchProtocol.self),
                    "With `endpoint`: `echo` sends each window once to `/v1/completions` with `echo`, `logprobs` and `max_tokens: 1`; `per_position` sends one request per position (the window's prefix, `max_tokens: 1`, `cache_prompt`) for servers without echo (llama-server); `auto` tries echo on the first window and falls back when the server refuses or ignores it."),
        RecipeField("concurrency", "integer", default: "4", allowed: "1...256", "With `endpoint`: windows fetched at once."),
        RecipeField("timeout_s", "number", default: "120", allowed: "> 0", "With `endpoint`: seconds a request may take before it is abandoned and retried."),
        RecipeField("retries", "integer", default: "5", allowed: "0...100",
                    "With `endpoint`: retries after a 429, a 5xx, a connection error or a timeout, waiting 0.5 s · 2^attempt (at most 30 s, with jitter) or the server's `Retry-After`; other 4xx stop the run at once with the server's message."),
    ]
}
