/// Additive attention masks and dropout masks.
///
/// Attention masks are *added* to the scores before the softmax: 0 keeps a position,
/// `maskedValue` removes it. They broadcast against scores of shape [B, H, T_query, T_key].
public enum Masks {
    /// The additive value for a masked position.
    ///
    /// A large finite negative rather than `-.infinity`: after subtracting the row maximum,
    /// exp(-1e9) underflows to exactly 0, so masked positions get no weight, yet a row whose
    /// positions are *all* masked stays finite (a uniform softmax) instead of turning into
    /// NaN through `-inf - (-inf)`. Scores are far smaller than 1e9, so a masked score stays
    /// about 1e9 below every unmasked one.
    public static let maskedValue: Float = -1e9

    /// A causal mask [length, length]: 0 where key ≤ query (on and below the diagonal),
    /// `maskedValue` where the key lies in the future.
    public static func causal(_ length: Int) -> Tensor {
        precondition(length >= 0, "Masks.causal: negative length \(length)")
        var out = [Float](repeating: 0, count: length * length)
        out.withUnsafeMutableBufferPointer { m in
            for q in 0..<length {
                for k in (q + 1)..<length { m[q * length + k] = maskedValue }
            }
        }
        return Tensor(shape: [length, length], scalars: out)
    }

    /// A key-padding mask [B, 1, 1, maxLength] for sequences of the given lengths: 0 at
    /// positions `< lengths[b]`, `maskedValue` at the padding after them.
    public static func padding(lengths: [Int], maxLength: Int) -> Tensor {
        precondition(maxLength >= 0, "Masks.padding: negative maxLength \(maxLength)")
        var out = [Float](repeating: 0, count: lengths.count * maxLength)
        out.withUnsafeMutableBufferPointer { m in
            for (b, length) in lengths.enumerated() {
                precondition(length >= 0 && length <= maxLength,
                             "Masks.padding: length \(length) of sequence \(b) is outside 0...\(maxLength)")
                for t in length..<maxLength { m[b * maxLength + t] = maskedValue }
            }
        }
        return Tensor(shape: [lengths.count, 1, 1, maxLength], scalars: out)
    }

    /// A key-padding mask [B, 1, 1, T] from a tokenizer-style attention mask [B, T] of 1 (token)
    /// and 0 (padding).
    public static func padding(attentionMask: Tensor) -> Tensor {
        precondition(attentionMask.rank == 2, "Masks.padding: attention mask must be [batch, length], got \(attentionMask.shape)")
        let batch = attentionMask.shape[0], length = attentionMask.shape[1]
        let scalars = attentionMask.scalars.enumerated().map { i, v -> Float in
            precondition(v == 0 || v == 1, "Masks.padding: attention mask holds \(v) at flat index \(i); expected 0 or 1")
            return v == 1 ? 0 : maskedValue
        }
        return Tensor(shape: [batch, 1, 1, length], scalars: scalars)
    }

    /// An inverted-dropout mask: each entry independently 0 with `probability`, else 1 / (1 − p),
    /// so that `x * mask` keeps the expected value of `x` and inference needs no rescaling.
    ///
    /// `probability` must lie in [0, 1). One uniform draw per entry, in row-major order.
    public static func dropoutMask(shape: [Int], probability: Float, rng: inout RandomGenerator) -> Tensor {
        precondition(probability >= 0 && probability < 1, "Masks.dropoutMask: probability \(probability) is outside [0, 1)")
        let keep = 1 / (1 - probability)
        var out = [Float](repeating: 0, count: shape.elementCount)
        for i in out.indices where rng.nextUniform() >= probability { out[i] = keep }
        return Tensor(shape: shape, scalars: out)
    }
}
