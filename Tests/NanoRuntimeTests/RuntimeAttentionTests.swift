import Foundation
@testable import NanoRuntime
import NanoTensor
import Testing

/// `RuntimeAttention` (the SIMD head kernels for head widths that are a multiple of 8, sgemm
/// otherwise) against plain loops in Double: random q, k, v, padding masks, sequence lengths that
/// are not multiples of 8, odd lengths (the context's two-row step), head widths 8…64 and 12.
@Suite struct RuntimeAttentionTests {
    static func reference(q: [Float], k: [Float], v: [Float], batch: Int, t: Int, heads: Int, width: Int, lengths: [Int]) -> [Float] {
        let d = width / heads, scale = 1 / Double(Float(d).squareRoot())
        var out = [Float](repeating: 0, count: batch * t * width)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<t {
                    var s = [Double](repeating: 0, count: t)
                    for j in 0..<t {
                        var dot = 0.0
                        for c in 0..<d { dot += Double(q[(b * t + i) * width + h * d + c]) * Double(k[(b * t + j) * width + h * d + c]) }
                        s[j] = dot * scale + (j >= lengths[b] ? Double(Masks.maskedValue) : 0)
                    }
                    let m = s.max()!
                    let e = s.map { Foundation.exp($0 - m) }, total = e.reduce(0, +)
                    for c in 0..<d {
                        var acc = 0.0
                        for j in 0..<t { acc += e[j] / total * Double(v[(b * t + j) * width + h * d + c]) }
                        out[(b * t + i) * width + h * d + c] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    @Test func matchesPlainLoops() {
        var rng = RandomGenerator(seed: 3)
        for (batch, t, heads, d) in [(1, 1, 1, 8), (2, 5, 2, 16), (2, 13, 3, 32), (1, 64, 2, 32), (2, 70, 1, 64), (1, 9, 2, 40), (1, 13, 3, 16), (3, 6, 5, 8), (2, 11, 2, 12)] {
            let width = heads * d
            let q = rng.normal(shape: [batch * t, width], std: 1).scalars
            let k = rng.normal(shape: [batch * t, width], std: 1).scalars
            let v = rng.normal(shape: [batch * t, width], std: 1).scalars
            let lengths = (0..<batch).map { b in b == 0 ? t : max(1, t - 3) }
            let y = RuntimeAttention.context(q: Tensor(shape: [batch * t, width], scalars: q), k: Tensor(shape: [batch * t, width], scalars: k),
                                             v: Tensor(shape: [batch * t, width], scalars: v), batch: batch, length: t, heads: heads, lengths: lengths)
            let expected = Self.reference(q: q, k: k, v: v, batch: batch, t: t, heads: heads, width: width, lengths: lengths)
            let worst = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? 0
            // Probabilities sum to 1 and |v| ≲ 4: 1e-5 is a few float roundings of the largest terms.
            #expect(worst < 1e-5, "batch=\(batch) t=\(t) heads=\(heads) d=\(d): \(worst)")
        }
    }

    /// Every kernel set this CPU has against the plain loops (the bound above), and its bits
    /// against the AVX2 path's: the AVX-512 head kernel runs the same operations in the same order.
    /// Sets the CPU lacks are named as skipped.
    @Test func everyKernelSetMatchesPlainLoopsAndAVX2Bits() {
        var rng = RandomGenerator(seed: 5)
        let skipped = KernelSet.unavailable.map(\.name)
        if !skipped.isEmpty { print("RuntimeAttentionTests: kernel sets skipped (this CPU lacks them): \(skipped.joined(separator: ", "))") }
        for (batch, t, heads, d) in [(1, 1, 1, 8), (2, 5, 2, 16), (2, 13, 3, 32), (1, 64, 12, 32), (2, 70, 1, 64), (1, 9, 2, 40),
                                     (3, 17, 2, 24), (1, 33, 1, 80), (2, 64, 4, 32)] {
            let width = heads * d
            let q = rng.normal(shape: [batch * t, width], std: 1), k = rng.normal(shape: [batch * t, width], std: 1)
            let v = rng.normal(shape: [batch * t, width], std: 1)
            let lengths = (0..<batch).map { b in b == 0 ? t : max(1, t - 3) }
            let expected = Self.reference(q: q.scalars, k: k.scalars, v: v.scalars, batch: batch, t: t, heads: heads, width: width, lengths: lengths)
            let base = RuntimeAttention.context(q: q, k: k, v: v, batch: batch, length: t, heads: heads, lengths: lengths, kernels: .avx2)
            for set in KernelSet.available {
                let y = RuntimeAttention.context(q: q, k: k, v: v, batch: batch, length: t, heads: heads, lengths: lengths, kernels: set)
                let worst = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? 0
                #expect(worst < 1e-5, "\(set) batch=\(batch) t=\(t) heads=\(heads) d=\(d): \(worst)")
                let differing = zip(y.scalars, base.scalars).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(set) batch=\(batch) t=\(t) heads=\(heads) d=\(d): \(differing) values differ from avx2's bits")
            }
        }
    }

    /// A sentence's rows do not depend on how far its batch pads it: attended alone (t = its
    /// length) and padded to a longer t with junk in the padded rows, the valid rows have the same
    /// bits, for every kernel set this CPU has and for the sgemm path (head width 12).
    @Test func paddingLeavesASentencesBitsUnchanged() {
        var rng = RandomGenerator(seed: 11)
        for (n, padded, heads, d) in [(13, 64, 12, 32), (20, 37, 2, 16), (1, 9, 3, 8), (7, 16, 2, 12), (30, 31, 1, 64)] {
            let width = heads * d
            let own = [rng.normal(shape: [n, width], std: 1), rng.normal(shape: [n, width], std: 1), rng.normal(shape: [n, width], std: 1)]
            let junk = [rng.normal(shape: [padded - n, width], std: 3), rng.normal(shape: [padded - n, width], std: 3),
                        rng.normal(shape: [padded - n, width], std: 3)]
            let long = zip(own, junk).map { Tensor(shape: [padded, width], scalars: $0.scalars + $1.scalars) }
            for set in KernelSet.available {
                let alone = RuntimeAttention.context(q: own[0], k: own[1], v: own[2], batch: 1, length: n, heads: heads, lengths: [n], kernels: set)
                let inBatch = RuntimeAttention.context(q: long[0], k: long[1], v: long[2], batch: 1, length: padded, heads: heads, lengths: [n],
                                                       kernels: set)
                let differing = zip(alone.scalars, inBatch.scalars.prefix(n * width)).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(set) n=\(n) padded=\(padded) heads=\(heads) d=\(d): \(differing) of \(n * width) values differ")
            }
        }
    }
}
