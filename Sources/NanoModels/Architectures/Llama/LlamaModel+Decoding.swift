import NanoTensor

extension LlamaModel {
    /// Incremental inference: runs `tokens` at positions `cache.count ..< cache.count + tokens.count`,
    /// attending to everything the cache holds and to each other causally, and appends their keys
    /// and values to `cache`. Returns the logits [tokens.count, vocabulary], or [1, vocabulary] for
    /// the last token only when `lastPositionOnly` (a prompt's prefill: the output head over every
    /// prompt token would cost as much as the rest of the pass).
    ///
    /// The same layers as the full forward pass, on a tape that records nothing; only the
    /// attention differs, reading keys and values from the cache. A whole sequence through a fresh
    /// cache gives the full forward pass's logits.
    public func decode(_ tokens: [Int], cache: LlamaKVCache, lastPositionOnly: Bool = false) -> Tensor {
        let c = configuration
        let t = tokens.count
        precondition(t > 0, "Llama.decode: no tokens")
        precondition(cache.layers == c.layers && cache.kvHeads == c.kvHeads && cache.headDimension == c.headDimension,
                     "Llama.decode: the cache was made for another model")
        precondition(t <= cache.remaining, "Llama.decode: \(t) tokens do not fit the cache (\(cache.count) of \(cache.capacity) used)")
        let tape = Tape(recording: false)
        let start = cache.count, total = start + t
        let mask = t == 1 ? nil : Self.causalMask(queries: t, offset: start)
        var x = tokenEmbedding(tokens, shape: [1, t], tape: tape)                              // [1, T, width]
        for (layer, block) in blocks.enumerated() {
            let attention = block.attention
            let rope = attention.rotary ?? rotary
            let h = block.attentionNorm(x, tape: tape)
            let q = rope.apply(Attention.splitHeads(attention.query(h, tape: tape), heads: attention.heads, tape: tape).value,
                               offset: start)                                                 // [1, H, T, D]
            let k = rope.apply(Attention.splitHeads(attention.key(h, tape: tape), heads: attention.kvHeads, tape: tape).value,
                               offset: start)                                                 // [1, Hkv, T, D]
            let v = Attention.splitHeads(attention.value(h, tape: tape), heads: attention.kvHeads, tape: tape).value
            cache.write(layer: layer, keys: k, values: v)
            let (keys, values) = cache.prefix(layer: layer, length: total)                   // [1, Hkv, S, D]
            let context = Attention.scaledDotProduct(q: tape.constant(q), k: tape.constant(keys), v: tape.constant(values),
                                                     mask: mask, tape: tape)
            x = tape.add(x, attention.output(Attention.mergeHeads(context, tape: tape), tape: tape))
            x = tape.add(x, block.feedForward(block.feedForwardNorm(x, tape: tape), tape: tape))
        }
        cache.advance(by: t)
        if lastPositionOnly && t > 1 { x = tape.slice(x, axis: 1, range: (t - 1)..<t) }
        let out = logits(finalNorm(x, tape: tape), tape: tape).value
        return out.reshaped([out.count / c.vocabularySize, c.vocabularySize])
    }

    /// [queries, offset + queries]: query i, at position offset + i, sees keys 0...offset + i.
    static func causalMask(queries: Int, offset: Int) -> Tensor {
        let keys = offset + queries
        var m = [Float](repeating: 0, count: queries * keys)
        for i in 0..<queries {
            for j in (offset + i + 1)..<keys { m[i * keys + j] = Masks.maskedValue }
        }
        return Tensor(shape: [queries, keys], scalars: m)
    }
}
