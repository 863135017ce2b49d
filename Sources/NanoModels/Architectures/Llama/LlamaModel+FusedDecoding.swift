import NanoTensor

extension LlamaModel {
    /// True when every layer is the plain Llama layer `decodeFused` computes: RMS norms, SwiGLU
    /// with SiLU, and no Linear carrying an observer or transform (calibration, simulated
    /// quantization), which only the layers' own forwards run.
    public var fusedDecodingApplies: Bool {
        func plain(_ l: Linear) -> Bool { l.inputObserver == nil && l.inputTransform == nil && l.weightTransform == nil }
        func rms(_ n: Norm) -> Bool { if case .rms = n { return true } else { return false } }
        if let head, !plain(head) { return false }
        return blocks.allSatisfy { b in
            let a = b.attention, f = b.feedForward
            guard rms(b.attentionNorm), rms(b.feedForwardNorm), let gate = f.gate, f.activation == .silu,
                  a.headDimension == configuration.headDimension else { return false }
            return [a.query, a.key, a.value, a.output, gate, f.up, f.down].allSatisfy(plain)
        }
    }

    /// `decode` as an inference-only pass over token-major activations [T, features]: the
    /// projections' outputs are rotated in place and read by the causal attention as they are
    /// (no split into heads, no mask, no copy of the cache), the output and down projections
    /// accumulate straight into the residual stream, SiLU·mul is one loop, and no tape is kept.
    /// Same arithmetic as the layers' forwards up to the order of float additions, except where
    /// `decodingProjections` replaces a matrix (the packed runtime's ggml block arithmetic).
    func decodeFused(_ tokens: [Int], cache: LlamaKVCache, lastPositionOnly: Bool) -> Tensor {
        let c = configuration
        let t = tokens.count
        let start = cache.count
        var x = decodingProjections.tokenRows?(tokens)
            ?? tokenEmbedding(tokens, shape: [1, t], tape: Tape(recording: false)).value.reshaped([t, c.width])
        for (layer, block) in blocks.enumerated() {
            let attention = block.attention, ff = block.feedForward
            let rope = attention.rotary ?? rotary
            let h = Self.normalize(x, block.attentionNorm)
            var q = decodingRows(h, attention.query), k = decodingRows(h, attention.key)
            rope.rotateRows(&q, offset: start)
            rope.rotateRows(&k, offset: start)
            cache.store(layer: layer, keys: k, values: decodingRows(h, attention.value))
            let (keys, values) = cache.storage(layer: layer)
            let context = Tensor.causalAttention(queries: q, keys: keys, values: values, heads: attention.heads, length: start + t)
            addDecodingRows(context, attention.output, into: &x)

            let f = Self.normalize(x, block.feedForwardNorm)
            var hidden = decodingRows(f, ff.gate!)
            Tensor.siluMultiply(&hidden, by: decodingRows(f, ff.up))
            addDecodingRows(hidden, ff.down, into: &x)
        }
        cache.advance(by: t)
        if lastPositionOnly && t > 1 { x = x.slice(axis: 0, range: (t - 1)..<t) }
        let normalized = x.rmsNorm(gamma: finalNorm.weight.value, epsilon: finalNorm.epsilon)
        return decodingLogits(normalized)
    }

    /// A plain Linear on rows [n, in] (sgemv for few rows, the GEMM otherwise).
    static func projectRows(_ x: Tensor, _ layer: Linear) -> Tensor {
        projectRows(x, weight: layer.weight.value, bias: layer.bias?.value)
    }

    /// An RMS norm (the only kind `fusedDecodingApplies` lets through) on rows [n, width].
    static func normalize(_ x: Tensor, _ norm: Norm) -> Tensor {
        guard case .rms(let n) = norm else { preconditionFailure("Llama.decodeFused: not an RMS norm") }
        return x.rmsNorm(gamma: n.weight.value, epsilon: n.epsilon)
    }
}
