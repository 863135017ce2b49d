import Foundation
import NanoTensor

/// Scaled dot-product attention, shared by every architecture.
public enum Attention {
    /// q: [B, H, T, D]; k, v: [B, Hkv, S, D] with H a multiple of Hkv (grouped-query attention: query
    /// head h reads key/value head h / (H/Hkv), as Llama's `repeat_kv`). `mask` is additive and
    /// broadcasts to [B, H, T, S]. Returns [B, H, T, D]. `observer`, when given, sees the masked
    /// scores and the attention probabilities (both [B, H, T, S], on `tape`, so a loss built from
    /// them has a gradient); without one nothing extra is computed.
    public static func scaledDotProduct(q: Variable, k: Variable, v: Variable, mask: Tensor?, tape: Tape,
                                        observer: ((AttentionMaps) -> Void)? = nil) -> Variable {
        let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let hkv = k.shape[1], s = k.shape[2]
        precondition(h % hkv == 0, "attention: \(h) query heads do not divide into \(hkv) key/value heads")
        let group = h / hkv
        let scaled = tape.scale(q, by: 1 / Float(d).squareRoot())
        var scores: Variable
        if group == 1 {
            scores = tape.matmul(scaled, k, transposeB: true)                          // [B,H,T,S]
        } else {
            // Broadcast each key/value head over its group of query heads through matmul's batch axes.
            let q5 = tape.reshape(scaled, [b, hkv, group, t, d])
            let k5 = tape.reshape(k, [b, hkv, 1, s, d])
            scores = tape.reshape(tape.matmul(q5, k5, transposeB: true), [b, h, t, s])
        }
        if let mask { scores = tape.add(scores, tape.constant(mask)) }
        let probs = tape.softmax(scores, axis: -1)
        observer?(AttentionMaps(scores: scores, probabilities: probs))
        if group == 1 { return tape.matmul(probs, v) }
        let p5 = tape.reshape(probs, [b, hkv, group, t, s])
        let v5 = tape.reshape(v, [b, hkv, 1, s, d])
        return tape.reshape(tape.matmul(p5, v5), [b, h, t, d])
    }

    /// [B, T, H·D] → [B, H, T, D]
    public static func splitHeads(_ x: Variable, heads: Int, tape: Tape) -> Variable {
        let (b, t, width) = (x.shape[0], x.shape[1], x.shape[2])
        return tape.permute(tape.reshape(x, [b, t, heads, width / heads]), [0, 2, 1, 3])
    }

    /// [B, H, T, D] → [B, T, H·D]
    public static func mergeHeads(_ x: Variable, tape: Tape) -> Variable {
        let (b, h, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return tape.reshape(tape.permute(x, [0, 2, 1, 3]), [b, t, h * d])
    }
}

/// One attention call's maps, [B, H, T, S]: the scaled, masked scores (pre-softmax logits; masked
/// keys hold `Masks.maskedValue`) and their softmax over keys, the attention probabilities.
public struct AttentionMaps {
    public let scores: Variable
    public let probabilities: Variable
}

/// Multi-head self-attention with optional grouped-query heads and rotary embeddings
/// (parameter names as in Llama checkpoints: q_proj, k_proj, v_proj, o_proj).
public final class MultiHeadAttention: ParameterContainer {
    public private(set) var query: Linear, key: Linear, value: Linear, output: Linear
    public private(set) var heads: Int
    public private(set) var kvHeads: Int
    public let rotary: RotaryEmbedding?

    public var headDimension: Int { query.outFeatures / heads }

    /// Sees every call's attention maps on the forward's tape (attention distillation reads the
    /// probabilities here, with their gradient, as calibration reads `Linear.inputObserver`).
    /// Nil (the default) leaves the forward pass as it is.
    public var attentionObserver: ((AttentionMaps) -> Void)?

    public init(query: Linear, key: Linear, value: Linear, output: Linear, heads: Int, kvHeads: Int, rotary: RotaryEmbedding?) {
        precondition(query.outFeatures % heads == 0, "attention: width \(query.outFeatures) not divisible by \(heads) heads")
        precondition(heads % kvHeads == 0, "attention: \(heads) heads not divisible by \(kvHeads) key/value heads")
        precondition(key.outFeatures == kvHeads * query.outFeatures / heads, "attention: key width \(key.outFeatures) does not match \(kvHeads) heads")
        self.query = query; self.key = key; self.value = value; self.output = output
        self.heads = heads; self.kvHeads = kvHeads; self.rotary = rotary
    }

    /// A fresh layer. `headDimension` defaults to `width / heads`; give it when heads were removed
    /// (structured pruning), so the heads' total width `heads · headDimension` is below `width`.
    public convenience init(width: Int, heads: Int, kvHeads: Int? = nil, headDimension: Int? = nil, rotary: RotaryEmbedding? = nil,
                            bias: Bool = true, std: Float = 0.02, outputStd: Float? = nil, rng: inout RandomGenerator) {
        let kvh = kvHeads ?? heads
        let d = headDimension ?? width / heads
        self.init(query: Linear(width, heads * d, bias: bias, std: std, rng: &rng),
                  key: Linear(width, kvh * d, bias: bias, std: std, rng: &rng),
                  value: Linear(width, kvh * d, bias: bias, std: std, rng: &rng),
                  output: Linear(heads * d, width, bias: bias, std: outputStd ?? std, rng: &rng),
                  heads: heads, kvHeads: kvh, rotary: rotary)
    }

    /// Swaps in new projections and head counts, as structured pruning does when it removes whole
    /// heads. The same checks as `init` apply; the rotary table is kept (head dimension unchanged).
    public func replaceProjections(query: Linear, key: Linear, value: Linear, output: Linear, heads: Int, kvHeads: Int) {
        precondition(heads > 0 && query.outFeatures % heads == 0, "attention: width \(query.outFeatures) not divisible by \(heads) heads")
        precondition(kvHeads > 0 && heads % kvHeads == 0, "attention: \(heads) heads not divisible by \(kvHeads) key/value heads")
        precondition(key.outFeatures == kvHeads * query.outFeatures / heads, "attention: key width \(key.outFeatures) does not match \(kvHeads) heads")
        precondition(value.outFeatures == key.outFeatures && output.inFeatures == query.outFeatures,
                     "attention: value \(value.weight.shape) or output \(output.weight.shape) does not match query \(query.weight.shape)")
        self.query = query; self.key = key; self.value = value; self.output = output
        self.heads = heads; self.kvHeads = kvHeads
    }

    /// x: [B, T, width]; mask additive, broadcastable to [B, H, T, T].
    public func callAsFunction(_ x: Variable, mask: Tensor?, tape: Tape) -> Variable {
        var q = Attention.splitHeads(query(x, tape: tape), heads: heads, tape: tape)
        var k = Attention.splitHeads(key(x, tape: tape), heads: kvHeads, tape: tape)
        let v = Attention.splitHeads(value(x, tape: tape), heads: kvHeads, tape: tape)
        if let rotary {
            q = tape.rotary(q, rotary)
            k = tape.rotary(k, rotary)
        }
        let context = Attention.scaledDotProduct(q: q, k: k, v: v, mask: mask, tape: tape, observer: attentionObserver)
        return output(Attention.mergeHeads(context, tape: tape), tape: tape)
    }

    public var children: [(name: String, module: ParameterContainer)] {
        [("q_proj", query), ("k_proj", key), ("v_proj", value), ("o_proj", output)]
    }

    /// Replaces one projection by a Linear of the same shape (a pass that changes shapes uses
    /// `replaceProjections`, which keeps the heads consistent).
    public func replaceChild(_ name: String, with module: ParameterContainer) -> Bool {
        guard let linear = module as? Linear else { return false }
        func same(_ old: Linear) -> Bool { old.weight.shape == linear.weight.shape }
        switch name {
        case "q_proj" where same(query): query = linear
        case "k_proj" where same(key): key = linear
        case "v_proj" where same(value): value = linear
        case "o_proj" where same(output): output = linear
        default: return false
        }
        return true
    }
}
