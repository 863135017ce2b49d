import NanoTensor

extension LlamaModel {
    /// One new token for each of several sequences at once, each continuing in its own cache (a
    /// server's clients, decoded together: continuous batching). The matrix products run once on
    /// the stacked rows [sequences, width]; the rotary positions, the cache writes and the
    /// attention stay per sequence. Returns the logits [sequences, vocabulary].
    ///
    /// Every operation but the matrix products works row by row, so when the products do too (the
    /// packed runtime's block kernels: `GGMLLinear` computes a row as it would alone) the logits
    /// equal, bit for bit, those of `decode([token], cache:)` on each sequence in turn. Float32
    /// weights (sgemm) may sum a row in another order for another row count.
    public func decodeStep(_ tokens: [Int], caches: [LlamaKVCache]) -> Tensor {
        let n = tokens.count
        precondition(n > 0 && caches.count == n, "Llama.decodeStep: \(n) tokens for \(caches.count) caches")
        precondition(Set(caches.map(ObjectIdentifier.init)).count == n, "Llama.decodeStep: a cache appears twice")
        for cache in caches {
            precondition(cache.remaining >= 1, "Llama.decodeStep: a cache is full (\(cache.capacity) positions)")
            precondition(cache.layers == configuration.layers && cache.kvHeads == configuration.kvHeads
                         && cache.headDimension == configuration.headDimension, "Llama.decodeStep: a cache was made for another model")
        }
        guard fusedDecodingApplies, n > 1 else {
            // Layers with hooks run their own forwards: one sequence at a time.
            let rows = zip(tokens, caches).map { decode([$0], cache: $1).scalars }
            return Tensor(shape: [n, configuration.vocabularySize], scalars: rows.flatMap { $0 })
        }
        let c = configuration
        var x = decodingProjections.tokenRows?(tokens)
            ?? tokenEmbedding(tokens, shape: [1, n], tape: Tape(recording: false)).value.reshaped([n, c.width])
        for (layer, block) in blocks.enumerated() {
            let attention = block.attention, ff = block.feedForward
            let rope = attention.rotary ?? rotary
            let h = Self.normalize(x, block.attentionNorm)
            let q = decodingRows(h, attention.query), k = decodingRows(h, attention.key), v = decodingRows(h, attention.value)
            var context: [Float] = []
            context.reserveCapacity(n * q.shape[1])
            for (s, cache) in caches.enumerated() {
                var qs = q.slice(axis: 0, range: s..<(s + 1)), ks = k.slice(axis: 0, range: s..<(s + 1))
                rope.rotateRows(&qs, offset: cache.count)
                rope.rotateRows(&ks, offset: cache.count)
                cache.store(layer: layer, keys: ks, values: v.slice(axis: 0, range: s..<(s + 1)))
                let (keys, values) = cache.storage(layer: layer)
                context += Tensor.causalAttention(queries: qs, keys: keys, values: values, heads: attention.heads, length: cache.count + 1).scalars
            }
            addDecodingRows(Tensor(shape: [n, q.shape[1]], scalars: context), attention.output, into: &x)

            let f = Self.normalize(x, block.feedForwardNorm)
            var hidden = decodingRows(f, ff.gate!)
            Tensor.siluMultiply(&hidden, by: decodingRows(f, ff.up))
            addDecodingRows(hidden, ff.down, into: &x)
        }
        for cache in caches { cache.advance(by: 1) }
        return decodingLogits(x.rmsNorm(gamma: finalNorm.weight.value, epsilon: finalNorm.epsilon))
    }
}
