import Foundation
import Testing
import NanoTensor
import TestSupport

/// `Tensor.causalAttention` (blockwise over query rows, upper triangle skipped) and the fused
/// inference steps (`addLinear`, `siluMultiply`) against plain loops in Double.
@Suite struct CausalAttentionTests {
    /// softmax(q·kᵀ/√D + causal mask)·v per head, every query row i at position length − T + i.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, length: Int) -> Tensor {
        let (kvHeads, capacity, d) = (k.shape[0], k.shape[1], k.shape[2])
        let t = q.shape[0], width = heads * d, group = heads / kvHeads
        var out = [Float](repeating: 0, count: t * width)
        for h in 0..<heads {
            let kv = (h / group) * capacity * d
            for i in 0..<t {
                let seen = length - t + i + 1
                var scores = [Double](repeating: 0, count: seen)
                for j in 0..<seen {
                    var dot = 0.0
                    for e in 0..<d { dot += Double(q.scalars[i * width + h * d + e]) * Double(k.scalars[kv + j * d + e]) }
                    scores[j] = dot / Double(d).squareRoot()
                }
                let m = scores.max()!
                let weights = scores.map { Foundation.exp($0 - m) }, total = weights.reduce(0, +)
                for e in 0..<d {
                    var sum = 0.0
                    for j in 0..<seen { sum += weights[j] / total * Double(v.scalars[kv + j * d + e]) }
                    out[i * width + h * d + e] = Float(sum)
                }
            }
        }
        return Tensor(shape: [t, width], scalars: out)
    }

    // (queries T, keys seen, heads, kvHeads, D, capacity): single decoding steps, one partial
    // block, several blocks with a tail, a prefix already cached (offset), grouped heads; the last
    // is above the size where the head × block tasks run on several threads (`Parallel.workers`).
    @Test(arguments: [(1, 1, 1, 1, 4, 3), (1, 17, 4, 2, 8, 20), (5, 5, 2, 1, 6, 5), (3, 10, 3, 3, 5, 12),
                      (70, 70, 3, 3, 16, 75), (130, 200, 4, 2, 8, 210), (64, 64, 2, 2, 7, 64), (129, 129, 6, 2, 10, 129),
                      (200, 260, 8, 2, 16, 260)])
    func matchesReference(t: Int, length: Int, heads: Int, kvHeads: Int, d: Int, capacity: Int) {
        var rng = RandomGenerator(seed: UInt64(t * 7919 + length * 31 + heads * 7 + d))
        let q = rng.normal(shape: [t, heads * d], std: 2)
        let k = rng.normal(shape: [kvHeads, capacity, d], std: 2), v = rng.normal(shape: [kvHeads, capacity, d])
        let got = Tensor.causalAttention(queries: q, keys: k, values: v, heads: heads, length: length)
        let expected = Self.reference(q, k, v, heads: heads, length: length)
        #expect(got.shape == [t, heads * d])
        #expect(maxAbsDifference(got, expected) <= 2e-5, "\(maxAbsDifference(got, expected))")
    }

    /// Keys past `length` (a cache's unused tail) never reach the output.
    @Test func ignoresPositionsPastTheLength() {
        var rng = RandomGenerator(seed: 11)
        let q = rng.normal(shape: [6, 2 * 4]), k = rng.normal(shape: [1, 12, 4]), v = rng.normal(shape: [1, 12, 4])
        var k2 = k, v2 = v
        for h in 0..<1 { for p in 9..<12 { for e in 0..<4 { k2.scalars[(h * 12 + p) * 4 + e] = 1e6; v2.scalars[(h * 12 + p) * 4 + e] = .nan } } }
        #expect(Tensor.causalAttention(queries: q, keys: k, values: v, heads: 2, length: 9)
                == Tensor.causalAttention(queries: q, keys: k2, values: v2, heads: 2, length: 9))
    }

    @Test(arguments: [(1, 7, 3), (3, 65, 129), (4, 576, 192), (5, 31, 64), (37, 100, 150), (200, 64, 96)])
    func addLinearMatchesReference(rows: Int, inFeatures: Int, outFeatures: Int) {
        var rng = RandomGenerator(seed: UInt64(rows * 1009 + inFeatures * 13 + outFeatures))
        let x = rng.normal(shape: [rows, inFeatures]), w = rng.normal(shape: [outFeatures, inFeatures])
        let bias = rng.normal(shape: [outFeatures]), residual = rng.normal(shape: [rows, outFeatures])
        let product = Reference.matmul(x, w, transposeB: true)
        let tolerance = 1e-5 * Float(inFeatures).squareRoot() * 4
        var y = residual
        Tensor.addLinear(x, weight: w, bias: nil, into: &y)
        #expect(isClose(y, Reference.broadcast(residual, product, +), rtol: 1e-5, atol: tolerance))
        y = residual
        Tensor.addLinear(x, weight: w, bias: bias, into: &y)
        #expect(isClose(y, Reference.broadcast(Reference.broadcast(residual, product, +), bias, +), rtol: 1e-5, atol: tolerance))
    }

    @Test(arguments: [1, 17, 70_000, 200_003])
    func siluMultiplyMatchesReference(count: Int) {
        var rng = RandomGenerator(seed: UInt64(count))
        let gate = rng.normal(shape: [count], std: 4), up = rng.normal(shape: [count])
        var got = gate
        Tensor.siluMultiply(&got, by: up)
        #expect(isClose(got, Reference.broadcast(Reference.silu(gate), up, *), rtol: 1e-5, atol: 1e-6))
    }
}
