import Hummingbird
import NanoCheckpoint
import NanoRuntime

/// Runs a checked `CompletionRequest` on its decoder and answers it, whole or as server-sent
/// events (`data: {chunk}\n\n` … `data: [DONE]\n\n`). Several prompts run one after another.
struct CompletionEndpoint: Sendable {
    let decoder: ServedDecoder
    let request: CompletionRequest

    func respond() async throws -> Response {
        // The first prompt is admitted before any byte goes out, so a full queue is a 429.
        let first = try decoder.generate(request.generation[0])
        if request.stream { return streamed(first: first) }
        return HTTPReplies.json(try await whole(first: first))
    }

    private var promptTokens: Int { request.prompts.reduce(0) { $0 + $1.tokens.count } }

    private func whole(first: AsyncStream<GenerationEvent>) async throws -> JSONValue {
        let reply = CompletionReply(kind: request.kind, model: request.model, codec: decoder.codec, tokensAsIds: request.tokensAsIds)
        var choices: [CompletionReply.Choice] = []
        for (i, g) in request.generation.enumerated() {
            var choice = CompletionReply.Choice()
            if request.echo { choice.text = request.prompts[i].text }
            for await event in i == 0 ? first : try decoder.generate(g) {
                switch event {
                case .prompt(let logprobs, let tokens): choice.entries += zip(tokens, logprobs).map { ($0, $1) }
                case .token(let token, let text, let logprob):
                    choice.text += text
                    choice.entries.append((token, logprob))
                case .text(let text): choice.text += text
                case .finished(let reason, let count): choice.finish = reason; choice.completionTokens = count
                }
            }
            choices.append(choice)
        }
        return reply.whole(choices, promptTokens: promptTokens, logprobs: request.logprobs)
    }

    private func streamed(first: AsyncStream<GenerationEvent>) -> Response {
        let body = ResponseBody { writer in
            let reply = CompletionReply(kind: request.kind, model: request.model, codec: decoder.codec, tokensAsIds: request.tokensAsIds)
            func send(_ value: JSONValue) async throws { try await writer.write(ByteBuffer(string: "data: " + value.serialized + "\n\n")) }
            var completion = 0
            for (i, g) in request.generation.enumerated() {
                let events: AsyncStream<GenerationEvent>
                if i == 0 { events = first } else {
                    do { events = try decoder.generate(g) } catch let e as APIError {
                        try await send(e.json)
                        break
                    }
                }
                var offset = 0
                if request.kind == .chat {
                    try await send(reply.chunk(index: i, text: "", entries: [], logprobs: false, offset: 0, role: true))
                } else if request.echo && !request.logprobs {
                    try await send(reply.chunk(index: i, text: request.prompts[i].text, entries: [], logprobs: false, offset: 0))
                    offset += request.prompts[i].text.unicodeScalars.count
                }
                for await event in events {
                    switch event {
                    case .prompt(let logprobs, let tokens):
                        let text = request.prompts[i].text
                        try await send(reply.chunk(index: i, text: text, entries: zip(tokens, logprobs).map { ($0, $1) },
                                                   logprobs: true, offset: offset))
                        offset += text.unicodeScalars.count
                    case .token(let token, let text, let logprob):
                        guard !text.isEmpty || logprob != nil else { continue }
                        try await send(reply.chunk(index: i, text: text, entries: [(token, logprob)], logprobs: request.logprobs, offset: offset))
                        offset += text.unicodeScalars.count
                    case .text(let text):
                        try await send(reply.chunk(index: i, text: text, entries: [], logprobs: false, offset: offset))
                        offset += text.unicodeScalars.count
                    case .finished(let reason, let count):
                        completion += count
                        try await send(reply.chunk(index: i, text: request.kind == .chat ? nil : "", entries: [], logprobs: false,
                                                   offset: offset, finish: reason))
                    }
                }
            }
            if request.includeUsageInStream { try await send(reply.usageChunk(prompt: promptTokens, completion: completion)) }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
