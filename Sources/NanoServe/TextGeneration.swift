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

/// One completion in progress: its cache, sampler, detokenizer and stop strings, the logits its
/// next token is drawn from, and where its events go.
final class GenerationState {
    let request: GenerationRequest
    let cache: LlamaKVCache
    var sampler: TokenSampler
    var detokenizer: IncrementalDetokenizer
    var stops: StopMatcher
    var count = 0
    var logits: [Float] = []
    let emit: (GenerationEvent) -> Void
    let cancelled: () -> Bool

    init(_ request: GenerationRequest, cache: LlamaKVCache, codec: any TokenCodec, emit: @escaping (GenerationEvent) -> Void,
         cancelled: @escaping () -> Bool) {
        self.request = request; self.cache = cache; self.emit = emit; self.cancelled = cancelled
        sampler = TokenSampler(temperature: request.temperature, topP: request.topP, seed: request.seed)
        detokenizer = IncrementalDetokenizer(codec: codec)
        stops = StopMatcher(request.stop)
    }
}

/// One completion on a Llama through its KV cache: the loop of `LlamaModel.generate`
/// (prefill, then one token per pass, the same `TokenSampler`), with what a server adds:
/// log-probabilities, stop strings on the decoded text, and an early end when the client leaves.
/// `start` prefills and `sample` draws each token, so that `DecoderQueue` can advance several
/// completions in one pass (`LlamaModel.decodeStep`); `run` is the loop for one.
struct TextGeneration {
    let model: LlamaModel
    let codec: any TokenCodec
    let stopTokens: Set<Int>

    /// Runs `request`, reporting through `emit`; `cancelled` is asked before each new token.
    func run(_ request: GenerationRequest, cancelled: @escaping () -> Bool, emit: @escaping (GenerationEvent) -> Void) {
        guard let state = start(request, cancelled: cancelled, emit: emit) else { return }
        while let next = sample(state) {
            state.logits = model.decode([next], cache: state.cache).scalars
        }
    }

    /// The prompt through a fresh cache (reporting its log-probabilities when asked); nil when
    /// the request is already finished (`max_tokens` 0).
    func start(_ request: GenerationRequest, cancelled: @escaping () -> Bool, emit: @escaping (GenerationEvent) -> Void) -> GenerationState? {
        let cache = LlamaKVCache(for: model, capacity: request.prompt.count + request.maxTokens)
        let vocabulary = model.configuration.vocabularySize
        // The prompt's own log-probabilities need every position's logits; otherwise the head runs
        // over the last position only, as `generate` runs it.
        let prefill = model.decode(request.prompt, cache: cache, lastPositionOnly: !request.echoLogprobs)
        if request.echoLogprobs {
            let k = request.logprobs ?? 0
            var entries: [TokenLogprob?] = [nil]
            for i in 1..<request.prompt.count {
                let row = prefill.scalars[((i - 1) * vocabulary)..<(i * vocabulary)]
                entries.append(TokenLogprob(token: request.prompt[i], logits: row, top: k))
            }
            emit(.prompt(entries, tokens: request.prompt))
        }
        guard request.maxTokens > 0 else { emit(.finished(.length, completionTokens: 0)); return nil }
        let state = GenerationState(request, cache: cache, codec: codec, emit: emit, cancelled: cancelled)
        state.logits = Array(prefill.scalars.suffix(vocabulary))
        return state
    }

    /// Draws the next token from `state.logits` and reports it; the token to feed next, or nil
    /// once the completion has finished (and reported why).
    func sample(_ state: GenerationState) -> Int? {
        let request = state.request
        let next = state.sampler.next(state.logits[...])
        state.count += 1
        let logprob = request.logprobs.map { TokenLogprob(token: next, logits: state.logits[...], top: $0) }
        let (text, stopped) = state.stops.append(state.detokenizer.append(next))
        state.emit(.token(next, text: text, logprob: logprob))
        if stopped { state.emit(.finished(.stop, completionTokens: state.count)); return nil }
        let endOfSequence = stopTokens.contains(next)
        if endOfSequence || state.count == request.maxTokens || state.cancelled() {
            let (tail, stoppedAtEnd) = state.stops.append(state.detokenizer.finish())
            let rest = stoppedAtEnd ? tail : tail + state.stops.flush()
            if !rest.isEmpty { state.emit(.text(rest)) }
            state.emit(.finished(endOfSequence || stoppedAtEnd ? .stop : .length, completionTokens: state.count))
            return nil
        }
        return next
    }
}
