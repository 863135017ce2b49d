import Foundation
import NanoTensor

/// Rotary position embedding (RoFormer; the "rotate half" layout used by Llama checkpoints):
/// for x = [x₁, x₂] split in halves along the head axis,
/// rope(x) = [x₁·cos − x₂·sin, x₂·cos + x₁·sin], with angle t·base^(−2i/d) at position t.
public struct RotaryEmbedding: Sendable {
    public let headDimension: Int
    public let base: Float
    /// cos and sin tables: [maxLength, headDimension / 2]
    let cos: [Float]
    let sin: [Float]
    public let maxLength: Int

    public init(headDimension: Int, maxLength: Int, base: Float = 10_000) {
        precondition(headDimension % 2 == 0, "RotaryEmbedding: head dimension \(headDimension) must be even")
        self.headDimension = headDimension
        self.base = base
        self.maxLength = maxLength
        let half = headDimension / 2
        var c = [Float](repeating: 0, count: maxLength * half), s = c
        for t in 0..<maxLength {
            for i in 0..<half {
                let angle = Double(t) * Foundation.pow(Double(base), -2 * Double(i) / Double(headDimension))
                c[t * half + i] = Float(Foundation.cos(angle))
                s[t * half + i] = Float(Foundation.sin(angle))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates x: [..., T, headDimension]; `inverse` rotates by the opposite angle (the adjoint).
    /// Row t sits at position `offset + t` (incremental decoding continues after a cached prefix).
    public func apply(_ x: Tensor, inverse: Bool = false, offset: Int = 0) -> Tensor {
        let d = headDimension, half = d / 2
        precondition(x.rank >= 2 && x.shape[x.rank - 1] == d, "rotary: last axis of \(x.shape) must be \(d)")
        let t = x.shape[x.rank - 2]
        precondition(offset >= 0 && offset + t <= maxLength, "rotary: positions \(offset)..<\(offset + t) exceed the table (\(maxLength))")
        let sign: Float = inverse ? -1 : 1
        var out = x.scalars
        let rows = x.count / d
        x.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                cos.withUnsafeBufferPointer { cs in
                    sin.withUnsafeBufferPointer { sn in
                        for r in 0..<rows {
                            let pos = offset + r % t
                            let base = r * d, tb = pos * half
                            for i in 0..<half {
                                let x1 = src[base + i], x2 = src[base + half + i]
                                let c = cs[tb + i], s = sign * sn[tb + i]
                                dst[base + i] = x1 * c - x2 * s
                                dst[base + half + i] = x2 * c + x1 * s
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}

extension Tape {
    /// Differentiable rotary embedding; the backward rotation is the inverse rotation.
    public func rotary(_ x: Variable, _ rope: RotaryEmbedding) -> Variable {
        record(rope.apply(x.value), inputs: [x]) { g, _ in [rope.apply(g, inverse: true)] }
    }
}
