import NanoTensor

extension LlamaModel {
    /// Continues `prompt` by up to `maxTokens` tokens through a KV cache: one prefill pass over
    /// the prompt, then one pass per new token. Stops early after a token in `stopTokens` (which is
    /// returned). `onToken` sees each new token as it is chosen (streaming output).
    public func generate(prompt: [Int], maxTokens: Int, sampler: inout TokenSampler, stopTokens: Set<Int> = [],
                         onToken: (Int) -> Void = { _ in }) -> [Int] {
        precondition(!prompt.isEmpty, "Llama.generate: empty prompt")
        precondition(maxTokens >= 0, "Llama.generate: negative token count \(maxTokens)")
        precondition(prompt.count + maxTokens <= configuration.contextLength,
                     "Llama.generate: \(prompt.count) + \(maxTokens) tokens exceed the context \(configuration.contextLength)")
        guard maxTokens > 0 else { return [] }
        let cache = LlamaKVCache(for: self, capacity: prompt.count + maxTokens)
        var logits = decode(prompt, cache: cache, lastPositionOnly: true)
        var generated: [Int] = []
        while true {
            let next = sampler.next(logits.scalars[...])
            generated.append(next)
            onToken(next)
            if generated.count == maxTokens || stopTokens.contains(next) { break }
            logits = decode([next], cache: cache)
        }
        return generated
    }
}
