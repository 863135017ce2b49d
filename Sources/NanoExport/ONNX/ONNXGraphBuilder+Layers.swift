import Foundation
import NanoModels
import NanoTensor

/// The building blocks the families share: norms, activations, feed-forward and attention, each
/// written as the ONNX ops that compute what the nanoforge layer computes.
extension ONNXGraphBuilder {
    /// LayerNormalization (opset 17) over the last axis.
    func layerNorm(_ x: String, _ norm: LayerNorm, name: String) -> String {
        let scale = initializer(name + ".weight", norm.weight.value)
        let bias = initializer(name + ".bias", norm.bias.value)
        return node("LayerNormalization", [x, scale, bias], name,
                    attributes: [.int("axis", -1), .float("epsilon", norm.epsilon)])[0]
    }

    /// x / √(mean(x²) + ε) · γ, composed (RMSNormalization arrives only in opset 23).
    func rmsNorm(_ x: String, _ norm: RMSNorm, name: String) -> String {
        let meanSquare = op("ReduceMean", [op("Mul", [x, x], name)], name, .ints("axes", [-1]), .int("keepdims", 1))
        let rstd = op("Reciprocal", [op("Sqrt", [op("Add", [meanSquare, scalar(norm.epsilon)], name)], name)], name)
        return op("Mul", [op("Mul", [x, rstd], name), initializer(name + ".weight", norm.weight.value)], name)
    }

    func norm(_ x: String, _ norm: Norm, name: String) -> String {
        switch norm {
        case .layer(let n): return layerNorm(x, n, name: name)
        case .rms(let n): return rmsNorm(x, n, name: name)
        }
    }

    /// The activation as nanoforge defines it: GELU in its exact erf form, or the tanh
    /// approximation 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) for `gelu_tanh`.
    func activation(_ x: String, _ activation: Activation, name: String) -> String {
        switch activation {
        case .relu: return op("Relu", [x], name)
        case .tanh: return op("Tanh", [x], name)
        case .silu: return op("Mul", [x, op("Sigmoid", [x], name)], name)
        case .gelu:
            let erf = op("Erf", [op("Mul", [x, scalar(Float(0.5.squareRoot()))], name)], name)
            return op("Mul", [op("Mul", [x, scalar(0.5)], name), op("Add", [erf, scalar(1)], name)], name)
        case .geluTanh:
            let cube = op("Mul", [op("Mul", [x, x], name), x], name)
            let inner = op("Add", [x, op("Mul", [cube, scalar(0.044_715)], name)], name)
            let t = op("Tanh", [op("Mul", [inner, scalar(Float((2 / Double.pi).squareRoot()))], name)], name)
            return op("Mul", [op("Mul", [x, scalar(0.5)], name), op("Add", [t, scalar(1)], name)], name)
        }
    }

    /// `down(act(up(x)))`, or SwiGLU `down(act(gate(x)) ⊙ up(x))`. Names are the layer names of
    /// the three projections.
    func feedForward(_ x: String, _ ff: FeedForward, up: String, gate: String?, down: String, name: String) throws -> String {
        let u = try linear(x, ff.up, name: up)
        let h: String
        if let g = ff.gate, let gateName = gate {
            h = op("Mul", [activation(try linear(x, g, name: gateName), ff.activation, name: name), u], name)
        } else {
            h = activation(u, ff.activation, name: name)
        }
        return try linear(h, ff.down, name: down)
    }

    /// Layer names of an attention block's four projections.
    struct AttentionNames { var query, key, value, output, block: String }

    /// Self-attention as `MultiHeadAttention` computes it. x: [B, T, width]; `mask` additive,
    /// broadcastable to [B, H, T, T]; `rotary` the cos/sin tables already cut to [T, D/2].
    func attention(_ x: String, _ a: MultiHeadAttention, mask: String, rotary: (cos: String, sin: String)?,
                   names: AttentionNames) throws -> String {
        let (h, hkv, d) = (a.heads, a.kvHeads, a.headDimension)
        let block = names.block
        var q = splitHeads(try linear(x, a.query, name: names.query), heads: h, headDimension: d, name: block)   // [B,H,T,D]
        var k = splitHeads(try linear(x, a.key, name: names.key), heads: hkv, headDimension: d, name: block)     // [B,Hkv,T,D]
        var v = splitHeads(try linear(x, a.value, name: names.value), heads: hkv, headDimension: d, name: block)
        if let rotary {
            q = rotate(q, rotary, headDimension: d, name: block)
            k = rotate(k, rotary, headDimension: d, name: block)
        }
        if hkv != h {
            k = repeatKeyValueHeads(k, heads: h, kvHeads: hkv, headDimension: d, name: block)
            v = repeatKeyValueHeads(v, heads: h, kvHeads: hkv, headDimension: d, name: block)
        }
        // nanoforge scales q by 1/√D before the product; so does the graph.
        let scaled = op("Mul", [q, scalar(1 / Float(d).squareRoot())], block)
        let keysT = op("Transpose", [k], block, .ints("perm", [0, 1, 3, 2]))                  // [B,H,D,T]
        let scores = op("Add", [op("MatMul", [scaled, keysT], block), mask], block)          // [B,H,T,T]
        let probs = op("Softmax", [scores], block, .int("axis", -1))
        let context = op("MatMul", [probs, v], block)                                         // [B,H,T,D]
        let merged = op("Reshape", [op("Transpose", [context], block, .ints("perm", [0, 2, 1, 3])), int64s([0, 0, Int64(h * d)])], block)
        return try linear(merged, a.output, name: names.output)
    }

    /// [B, T, H·D] → [B, H, T, D]
    private func splitHeads(_ x: String, heads: Int, headDimension d: Int, name: String) -> String {
        let r = op("Reshape", [x, int64s([0, 0, Int64(heads), Int64(d)])], name)
        return op("Transpose", [r], name, .ints("perm", [0, 2, 1, 3]))
    }

    /// Grouped-query attention: query head h reads key/value head h / (H/Hkv), as Llama's
    /// `repeat_kv`. [B, Hkv, T, D] → [B, Hkv, 1, T, D] → expand → [B, H, T, D].
    private func repeatKeyValueHeads(_ x: String, heads: Int, kvHeads: Int, headDimension d: Int, name: String) -> String {
        let u = op("Unsqueeze", [x, int64s([2])], name)
        let e = op("Expand", [u, int64s([1, 1, Int64(heads / kvHeads), 1, 1])], name)
        return op("Reshape", [e, int64s([0, Int64(heads), -1, Int64(d)])], name)
    }

    /// Rotary embedding, "rotate half" layout: [x₁·cos − x₂·sin, x₂·cos + x₁·sin].
    private func rotate(_ x: String, _ table: (cos: String, sin: String), headDimension d: Int, name: String) -> String {
        let half = Int64(d / 2)
        let x1 = op("Slice", [x, int64s([0]), int64s([half]), int64s([3])], name)
        let x2 = op("Slice", [x, int64s([half]), int64s([Int64(d)]), int64s([3])], name)
        let first = op("Sub", [op("Mul", [x1, table.cos], name), op("Mul", [x2, table.sin], name)], name)
        let second = op("Add", [op("Mul", [x2, table.cos], name), op("Mul", [x1, table.sin], name)], name)
        return op("Concat", [first, second], name, .int("axis", 3))
    }

    /// The sequence length of ids [B, T] as a 1-D int64 tensor [1].
    func sequenceLength(_ ids: String) -> String {
        op("Shape", [ids], "positions", .int("start", 1), .int("end", 2))
    }

    /// The first `length` rows of a table [rows, D] (positions 0..<T).
    func leadingRows(_ table: String, length: String, name: String) -> String {
        op("Slice", [table, int64s([0]), length, int64s([0])], name)
    }
}
