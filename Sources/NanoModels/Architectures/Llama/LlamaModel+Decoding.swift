import NanoTensor

extension LlamaModel {
    /// Incremental inference: runs `tokens` at positions `cache.count ..< cache.count + tokens.count`,
    /// attending to everything the cache holds and to each other causally, and appends their keys
    /// and values to `cache`. Returns the logits [tokens.count, vocabulary], or [1, vocabulary] for
    /// the last token only when `lastPositionOnly` (a prompt's prefill: the output head over every
    /// prompt token would cost as much as the rest of the pass).
    ///
    /// The same layers as the full forward pass; only the attention differs, reading keys and
    /// values from the cache. A whole sequence through a fresh cache gives the full forward
    /// pass's logits. Plain layers (no hooks, see `fusedDecodingApplies`) run the fused inference
    /// path (`decodeFused`); otherwise the layers' own forwards run on a tape that records nothing.
    public func decode(_ tokens: [Int], cache: LlamaKVCache, lastPositionOnly: Bool = false) -> Tensor {
        let c = configuration
        let t = tokens.count
        precondition(t > 0, "Llama.decode: no tokens")
        precondition(cache.layers == c.layers && cache.kvHeads == c.kvHeads && cache.headDimension == c.headDimension,
                     "Llama.decode: the cache was made for another model")
        precondition(t <= cache.remaining, "Llama.decode: \(t) tokens do not fit the cache (\(cache.count) of \(cache.capacity) used)")
        if fusedDecodingApplies { return decodeFused(tokens, cache: cache, lastPositionOnly: lastPositionOnly) }
        precondition(!requiresDecodingProjections, "Llama.decode: loaded for the packed runtime only, but a layer carries a hook the fused decoding cannot run")
        return decodeOnTape(tokens, cache: cache, lastPositionOnly: lastPositionOnly)
    }

    /// `decode` through the layers' own forward passes (any hooks they carry run).
    func decodeOnTape(_ tokens: [Int], cache: LlamaKVCache, lastPositionOnly: Bool) -> Tensor {
        let c = configuration
        let t = tokens.count
        let tape = Tape(recording: false)
        let start = cache.count, total = start + t
        let mask = t == 1 ? nil : Self.causalMask(queries: t, offset: start)
        var x = tokenEmbedding(tokens, shape: [1, t], tape: tape)                              // [1, T, width]
        for (layer, block) in blocks.enumerated() {
            let attention = block.attention
            let rope = attention.rotary ?? rotary
            let h = block.attentionNorm(x, tape: tape)
            let q = rope.apply(Attention.splitHeads(Self.project(attention.query, h, tape: tape), heads: attention.heads, tape: tape).value,
                               offset: start)                                                 // [1, H, T, D]
            let k = rope.apply(Attention.splitHeads(Self.project(attention.key, h, tape: tape), heads: attention.kvHeads, tape: tape).value,
                               offset: start)                                                 // [1, Hkv, T, D]
            let v = Attention.splitHeads(Self.project(attention.value, h, tape: tape), heads: attention.kvHeads, tape: tape).value
            cache.write(layer: layer, keys: k, values: v)
            let (keys, values) = cache.prefix(layer: layer, length: total)                   // [1, Hkv, S, D]
            let context = Attention.scaledDotProduct(q: tape.constant(q), k: tape.constant(keys), v: tape.constant(values),
                                                     mask: mask, tape: tape)
            x = tape.add(x, Self.project(attention.output, Attention.mergeHeads(context, tape: tape), tape: tape))
            x = tape.add(x, Self.feedForward(block.feedForward, block.feedForwardNorm(x, tape: tape), tape: tape))
        }
        cache.advance(by: t)
        if lastPositionOnly && t > 1 { x = tape.slice(x, axis: 1, range: (t - 1)..<t) }
        let normalized = finalNorm(x, tape: tape)
        let out = head.map { Self.project($0, normalized, tape: tape) }?.value
            ?? Self.projectRows(normalized.value.reshaped([normalized.value.count / c.width, c.width]), weight: tokenEmbedding.weight.value, bias: nil)
        return out.reshaped([out.count / c.vocabularySize, c.vocabularySize])
    }

    /// `FeedForward`'s forward pass with its projections through `project`.
    static func feedForward(_ ff: FeedForward, _ x: Variable, tape: Tape) -> Variable {
        let hidden: Variable
        if let gate = ff.gate {
            hidden = tape.mul(ff.activation.apply(project(gate, x, tape: tape), tape: tape), project(ff.up, x, tape: tape))
        } else {
            hidden = ff.activation.apply(project(ff.up, x, tape: tape), tape: tape)
        }
        return project(ff.down, hidden, tape: tape)
    }

    /// A Linear on decoding activations [..., in]: a matrix-vector product per row when there are
    /// few rows (each token after the prompt) and the layer has no hooks, its ordinary GEMM
    /// forward otherwise.
    static func project(_ layer: Linear, _ x: Variable, tape: Tape) -> Variable {
        let rows = x.value.count / Swift.max(layer.inFeatures, 1)
        guard rows <= fewRows, layer.inputObserver == nil, layer.inputTransform == nil, layer.weightTransform == nil else {
            return layer(x, tape: tape)
        }
        let y = projectRows(x.value.reshaped([rows, layer.inFeatures]), weight: layer.weight.value, bias: layer.bias?.value)
        return tape.constant(y.reshaped(Array(x.shape.dropLast()) + [layer.outFeatures]))
    }

    /// Up to this many rows go through matrix-vector products instead of a GEMM.
    static let fewRows = 4

    static func projectRows(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        x.shape[0] <= fewRows ? Tensor.linearFewRows(x, weight: weight, bias: bias) : Tensor.linear(x, weight: weight, bias: bias)
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
