import NanoCheckpoint
import NanoModels
import NanoRuntime

/// The two decoder endpoints and the shapes of their replies.
enum CompletionKind {
    /// `/v1/completions`: `prompt`, legacy `logprobs: N`, `echo`.
    case text
    /// `/v1/chat/completions`: `messages` through the model's chat template, `logprobs: true` + `top_logprobs: N`.
    case chat
}

/// A decoder request read and checked: the prompts as tokens and the generation settings.
struct CompletionRequest {
    let kind: CompletionKind
    let model: String
    /// One entry per prompt (chat: exactly one), with the prompt text `echo` repeats.
    var prompts: [(tokens: [Int], text: String)] = []
    var generation: [GenerationRequest] = []
    var stream = false
    var includeUsageInStream = false
    var echo = false
    /// Whether replies carry log-probabilities.
    var logprobs = false
    /// vLLM's `return_tokens_as_token_ids`: log-probability tables name tokens `token_id:N`
    /// (byte pieces of one character all read "�" as text).
    var tokensAsIds = false

    /// The most alternatives per position that `logprobs` / `top_logprobs` may ask for.
    static let maxTopLogprobs = 20

    /// Reads `fields` for `decoder`; every problem is an `APIError` naming its field.
    init(_ fields: RequestFields, kind: CompletionKind, decoder: ServedDecoder) throws {
        self.kind = kind
        model = try fields.requiredString("model")
        if let n = try fields.int("n"), n != 1 { throw APIError.invalidValue("n", "must be 1: nanoforge returns one choice per prompt") }
        stream = try fields.bool("stream") ?? false
        tokensAsIds = try fields.bool("return_tokens_as_token_ids") ?? false
        if let options = fields["stream_options"] {
            guard options.members != nil else { throw APIError.wrongType("stream_options", expected: "an object") }
            if let include = options["include_usage"], include != .null {
                guard let flag = include.bool else { throw APIError.wrongType("stream_options.include_usage", expected: "a boolean") }
                includeUsageInStream = flag
            }
        }
        let temperature = try fields.number("temperature") ?? 1
        guard temperature >= 0 && temperature <= 2 else { throw APIError.invalidValue("temperature", "must lie in [0, 2], got \(temperature)") }
        let topP = try fields.number("top_p") ?? 1
        guard topP > 0 && topP <= 1 else { throw APIError.invalidValue("top_p", "must lie in (0, 1], got \(topP)") }
        let seed = try fields.int("seed").map { UInt64(bitPattern: Int64($0)) } ?? UInt64.random(in: 0...UInt64.max)
        let stop = try fields.strings("stop") ?? []
        let maxTokensField = kind == .chat && fields["max_completion_tokens"] != nil ? "max_completion_tokens" : "max_tokens"
        let maxTokens = try fields.int(maxTokensField)
        if let maxTokens, maxTokens < 0 { throw APIError.invalidValue(maxTokensField, "must not be negative, got \(maxTokens)") }

        var top: Int?
        switch kind {
        case .text:
            echo = try fields.bool("echo") ?? false
            top = try fields.int("logprobs")
            if let top, !(0...Self.maxTopLogprobs).contains(top) { throw APIError.invalidValue("logprobs", "must lie in 0...\(Self.maxTopLogprobs), got \(top)") }
            guard let prompt = fields["prompt"] else { throw APIError.missing("prompt") }
            for (i, item) in try TextOrTokens.list(prompt, param: "prompt").enumerated() {
                prompts.append(try Self.tokens(item, decoder: decoder, param: i == 0 ? "prompt" : "prompt[\(i)]"))
            }
        case .chat:
            if try fields.bool("logprobs") ?? false {
                top = try fields.int("top_logprobs") ?? 0
                if let top, !(0...Self.maxTopLogprobs).contains(top) { throw APIError.invalidValue("top_logprobs", "must lie in 0...\(Self.maxTopLogprobs), got \(top)") }
            } else if try fields.int("top_logprobs") != nil {
                throw APIError.invalidValue("top_logprobs", "needs 'logprobs': true")
            }
            let messages = try Self.messages(fields)
            let text: String
            do { text = try decoder.codec.chatPrompt(messages) } catch {
                throw APIError(status: 400, message: "the model's chat template failed: \(error)", param: "messages", code: "invalid_value")
            }
            prompts = [try Self.tokens(.text(text), decoder: decoder, param: "messages")]
        }
        logprobs = top != nil
        for (i, prompt) in prompts.enumerated() {
            let param = kind == .chat ? "messages" : i == 0 ? "prompt" : "prompt[\(i)]"
            let room = decoder.contextLength - prompt.tokens.count
            let n = maxTokens ?? (kind == .chat ? max(room, 0) : 16)
            guard prompt.tokens.count + n <= decoder.contextLength else {
                throw APIError.contextExceeded(prompt: prompt.tokens.count, completion: n, context: decoder.contextLength, param: param)
            }
            var g = GenerationRequest(prompt: prompt.tokens, maxTokens: n)
            g.temperature = Float(temperature); g.topP = Float(topP); g.seed = seed; g.stop = stop
            g.logprobs = top
            g.echoLogprobs = echo && top != nil
            generation.append(g)
        }
    }

    /// A prompt's tokens, checked against the vocabulary.
    private static func tokens(_ item: TextOrTokens, decoder: ServedDecoder, param: String) throws -> (tokens: [Int], text: String) {
        switch item {
        case .text(let text):
            let ids = decoder.codec.encode(text)
            guard !ids.isEmpty else { throw APIError.invalidValue(param, "has no tokens") }
            return (ids, text)
        case .tokens(let ids):
            if let bad = ids.first(where: { $0 >= decoder.vocabularySize }) {
                throw APIError.invalidValue(param, "holds token id \(bad), outside the vocabulary of \(decoder.vocabularySize)")
            }
            return (ids, decoder.codec.decode(ids))
        }
    }

    /// `messages`: objects with a string `role` and a `content` that is a string or an array of
    /// `{"type": "text", "text": …}` parts.
    private static func messages(_ fields: RequestFields) throws -> [ChatMessage] {
        guard let value = fields["messages"] else { throw APIError.missing("messages") }
        guard let items = value.array else { throw APIError.wrongType("messages", expected: "an array of messages") }
        guard !items.isEmpty else { throw APIError.invalidValue("messages", "must not be empty") }
        return try items.enumerated().map { i, item in
            let param = "messages[\(i)]"
            guard item.members != nil else { throw APIError.wrongType(param, expected: "an object") }
            guard let role = item["role"]?.string else { throw APIError.wrongType(param + ".role", expected: "a string") }
            switch item["content"] {
            case .string(let s)?: return ChatMessage(role: role, content: s)
            case .array(let parts)?:
                let texts = parts.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }
                guard texts.count == parts.count else { throw APIError.wrongType(param + ".content", expected: "a string or an array of text parts") }
                return ChatMessage(role: role, content: texts.joined())
            case .null?, nil: return ChatMessage(role: role, content: "")
            default: throw APIError.wrongType(param + ".content", expected: "a string or an array of text parts")
            }
        }
    }
}
