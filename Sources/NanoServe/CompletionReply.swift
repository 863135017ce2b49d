import NanoCheckpoint
import NanoRuntime

/// Builds the JSON of decoder replies, whole (`text_completion`, `chat.completion`) or as
/// stream chunks (`…chunk`), from `GenerationEvent`s, in OpenAI's field names.
struct CompletionReply {
    let kind: CompletionKind
    let model: String
    let codec: any TokenCodec
    let id: String
    let created: JSONValue = .now
    /// Tokens named `token_id:N` in log-probability tables (vLLM's `return_tokens_as_token_ids`).
    let tokensAsIds: Bool

    init(kind: CompletionKind, model: String, codec: any TokenCodec, tokensAsIds: Bool = false) {
        self.kind = kind; self.model = model; self.codec = codec; self.tokensAsIds = tokensAsIds
        id = JSONValue.responseID(kind == .chat ? "chatcmpl-" : "cmpl-")
    }

    /// One choice as it grows.
    struct Choice {
        var text = ""
        /// Log-probability entries in order (prompt first when echoed); nil logprob for the first prompt token.
        var entries: [(token: Int, logprob: TokenLogprob?)] = []
        var finish: FinishReason?
        var completionTokens = 0
    }

    /// The usage object.
    static func usage(prompt: Int, completion: Int) -> JSONValue {
        .object([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(completion)), ("total_tokens", .int(prompt + completion))])
    }

    /// The whole reply.
    func whole(_ choices: [Choice], promptTokens: Int, logprobs: Bool) -> JSONValue {
        let items: [JSONValue] = choices.enumerated().map { i, c in
            switch kind {
            case .text:
                return .object([("index", .int(i)), ("text", .string(c.text)),
                                ("logprobs", logprobs ? legacyLogprobs(c.entries, offset: 0) : .null),
                                ("finish_reason", .optional(c.finish.map { .string($0.rawValue) }))])
            case .chat:
                return .object([("index", .int(i)),
                                ("message", .object([("role", .string("assistant")), ("content", .string(c.text))])),
                                ("logprobs", logprobs ? chatLogprobs(c.entries) : .null),
                                ("finish_reason", .optional(c.finish.map { .string($0.rawValue) }))])
            }
        }
        let completion = choices.reduce(0) { $0 + $1.completionTokens }
        return .object([("id", .string(id)), ("object", .string(kind == .chat ? "chat.completion" : "text_completion")),
                        ("created", created), ("model", .string(model)), ("choices", .array(items)),
                        ("usage", Self.usage(prompt: promptTokens, completion: completion))])
    }

    /// One stream chunk for choice `index`: `text` new text, `entries` the tokens it covers,
    /// `role` on a chat stream's first chunk, `finish` on its last.
    func chunk(index: Int, text: String?, entries: [(token: Int, logprob: TokenLogprob?)], logprobs: Bool, offset: Int,
               role: Bool = false, finish: FinishReason? = nil) -> JSONValue {
        let finishValue = JSONValue.optional(finish.map { .string($0.rawValue) })
        let choice: JSONValue
        switch kind {
        case .text:
            choice = .object([("index", .int(index)), ("text", .string(text ?? "")),
                              ("logprobs", logprobs && !entries.isEmpty ? legacyLogprobs(entries, offset: offset) : .null),
                              ("finish_reason", finishValue)])
        case .chat:
            var delta: [(key: String, value: JSONValue)] = []
            if role { delta.append(("role", .string("assistant"))) }
            if let text { delta.append(("content", .string(text))) }
            choice = .object([("index", .int(index)), ("delta", .object(delta)),
                              ("logprobs", logprobs && !entries.isEmpty ? chatLogprobs(entries) : .null),
                              ("finish_reason", finishValue)])
        }
        return chunkEnvelope([choice])
    }

    /// The final usage chunk of a stream (`stream_options.include_usage`): no choices.
    func usageChunk(prompt: Int, completion: Int) -> JSONValue {
        guard case .object(var members) = chunkEnvelope([]) else { return .null }
        members.append(("usage", Self.usage(prompt: prompt, completion: completion)))
        return .object(members)
    }

    private func chunkEnvelope(_ choices: [JSONValue]) -> JSONValue {
        .object([("id", .string(id)), ("object", .string(kind == .chat ? "chat.completion.chunk" : "text_completion")),
                 ("created", created), ("model", .string(model)), ("choices", .array(choices))])
    }

    /// A token as log-probability tables name it.
    private func name(_ token: Int) -> String { tokensAsIds ? "token_id:\(token)" : codec.tokenText(token) }

    /// `/v1/completions`' legacy shape: parallel lists of token texts, log-probabilities,
    /// `{text: logprob}` alternatives and character offsets into the returned text (from `offset`).
    func legacyLogprobs(_ entries: [(token: Int, logprob: TokenLogprob?)], offset: Int) -> JSONValue {
        var texts: [JSONValue] = [], values: [JSONValue] = [], tops: [JSONValue] = [], offsets: [JSONValue] = []
        var position = offset
        for e in entries {
            let text = codec.tokenText(e.token)
            texts.append(.string(name(e.token)))
            offsets.append(.int(position))
            position += text.unicodeScalars.count
            values.append(e.logprob.map { .float($0.logprob) } ?? .null)
            tops.append(e.logprob.map { lp in .object(lp.top.map { (name($0.token), .float($0.logprob)) }) } ?? .null)
        }
        return .object([("tokens", .array(texts)), ("token_logprobs", .array(values)), ("top_logprobs", .array(tops)), ("text_offset", .array(offsets))])
    }

    /// `/v1/chat/completions`' shape: `{"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}`.
    func chatLogprobs(_ entries: [(token: Int, logprob: TokenLogprob?)]) -> JSONValue {
        func item(_ token: Int, _ logprob: Float) -> [(key: String, value: JSONValue)] {
            [("token", .string(name(token))), ("logprob", .float(logprob)),
             ("bytes", .array(codec.tokenBytes(token).map { .int(Int($0)) }))]
        }
        let content: [JSONValue] = entries.compactMap { e in
            guard let lp = e.logprob else { return nil }
            return .object(item(e.token, lp.logprob) + [("top_logprobs", .array(lp.top.map { .object(item($0.token, $0.logprob)) }))])
        }
        return .object([("content", .array(content))])
    }
}
