import NanoModels
import NanoRuntime
import NanoTensor

/// What one completion asks of a decoder, checked and tokenized.
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var maxTokens: Int
    public var temperature: Float = 1
    public var topP: Float = 1
    public var seed: UInt64 = 0
    /// Generation ends before the first of these strings; it is not part of the text.
    public var stop: [String] = []
    /// Log-probabilities of each generated token with this many alternatives; nil for none.
    public var logprobs: Int?
    /// Also the prompt's tokens with their log-probabilities (the first one has none).
    public var echoLogprobs = false

    public init(prompt: [Int], maxTokens: Int) { self.prompt = prompt; self.maxTokens = maxTokens }
}

/// Why generation ended, as OpenAI's `finish_reason` names it.
public enum FinishReason: String, Sendable {
    /// An end-of-sequence token or a stop string.
    case stop
    /// `max_tokens` reached.
    case length
}

/// What a running completion reports, in order: the prompt's log-probabilities (when asked),
/// each generated token with the text it made final, then the end.
public enum GenerationEvent: Sendable {
    /// The prompt's tokens; entry 0 has no log-probability (nothing precedes it).
    case prompt([TokenLogprob?], tokens: [Int])
    /// A new token, the text that became final with it (often empty while a character or a
    /// possible stop string is incomplete) and its log-probability when asked.
    case token(Int, text: String, logprob: TokenLogprob?)
    /// Text that became final at the end without a new token (held-back pieces).
    case text(String)
    case finished(FinishReason, completionTokens: Int)
}

/// One completion on a Llama through its KV cache: the loop of `LlamaModel.generate`
/// (prefill, then one token per pass, the same `TokenSampler`), with what a server adds:
/// log-probabilities, stop strings on the decoded text, and an early end when the client leaves.
struct TextGeneration {
    let model: LlamaModel
    let codec: any TokenCodec
    let stopTokens: Set<Int>

    /// Runs `request`, reporting through `emit`; `cancelled` is asked before each new token.
    func run(_ request: GenerationRequest, cancelled: () -> Bool, emit: (GenerationEvent) -> Void) {
        let cache = LlamaKVCache(for: model, capacity: request.prompt.count + request.maxTokens)
        let vocabulary = model.configuration.vocabularySize
        // The prompt's own log-probabilities need every position's logits; otherwise the head runs
        // over the last position only, as `generate` runs it.
        let prefill = model.decode(request.prompt, cache: cache, lastPositionOnly: !request.echoLogprobs)
        var logits = Array(prefill.scalars.suffix(vocabulary))
        if request.echoLogprobs {
            let k = request.logprobs ?? 0
            var entries: [TokenLogprob?] = [nil]
            for i in 1..<request.prompt.count {
                let row = prefill.scalars[((i - 1) * vocabulary)..<(i * vocabulary)]
                entries.append(TokenLogprob(token: request.prompt[i], logits: row, top: k))
            }
            emit(.prompt(entries, tokens: request.prompt))
        }
        guard request.maxTokens > 0 else { emit(.finished(.length, completionTokens: 0)); return }
        var sampler = TokenSampler(temperature: request.temperature, topP: request.topP, seed: request.seed)
        var detokenizer = IncrementalDetokenizer(codec: codec)
        var stops = StopMatcher(request.stop)
        var count = 0
        while true {
            let next = sampler.next(logits[...])
            count += 1
            let logprob = request.logprobs.map { TokenLogprob(token: next, logits: logits[...], top: $0) }
            let (text, stopped) = stops.append(detokenizer.append(next))
            emit(.token(next, text: text, logprob: logprob))
            if stopped { emit(.finished(.stop, completionTokens: count)); return }
            let endOfSequence = stopTokens.contains(next)
            if endOfSequence || count == request.maxTokens || cancelled() {
                let (tail, stoppedAtEnd) = stops.append(detokenizer.finish())
                let rest = stoppedAtEnd ? tail : tail + stops.flush()
                if !rest.isEmpty { emit(.text(rest)) }
                emit(.finished(endOfSequence || stoppedAtEnd ? .stop : .length, completionTokens: count))
                return
            }
            logits = model.decode([next], cache: cache).scalars
        }
    }
}
