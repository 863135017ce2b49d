@testable import NanoTensor
import TestSupport
import Testing

/// Layer norm and RMS norm row loops on every `KernelSet` this CPU has, against the Double
/// plain-loop `Reference` (the bound `NormTests` states: 5e-7 relative + 1e-6 absolute for layer
/// norm, 5e-7 + 1e-7 for RMS norm) on widths with every tail below 16, both with one thread and
/// split over rows; each path's bits against the AVX2 loop's (the AVX-512 form sums the same 16
/// partial sums in the same order); `addingLayerNorm` against `(x + r).layerNorm`. A set this
/// CPU lacks is a skipped test, named with its reason.
@Suite struct NormDispatchTests {
    static let widths = [1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40, 384, 1000]

    static func rows(_ d: Int) -> Int { d >= 384 ? 70 : 5 }

    static func data(_ count: Int, seed: UInt64, offset: Float) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        return rng.normal(shape: [count], mean: offset, std: 2).scalars
    }

    /// The rows of x [rows, d] normalised by `set`, one call per row range of `split` rows.
    static func layerNorm(_ x: [Float], residual: [Float]?, d: Int, gamma: [Float], beta: [Float], set: KernelSet,
                          split: Int) -> (y: [Float], mean: [Float], rstd: [Float]) {
        let rows = x.count / d
        var y = [Float](repeating: .nan, count: x.count), mean = [Float](repeating: .nan, count: rows), rstd = mean
        x.withUnsafeBufferPointer { px in gamma.withUnsafeBufferPointer { pg in beta.withUnsafeBufferPointer { pb in
            y.withUnsafeMutableBufferPointer { py in mean.withUnsafeMutableBufferPointer { pm in rstd.withUnsafeMutableBufferPointer { ps in
                let (x0, g0, b0, y0, m0, s0) = (px.baseAddress!, pg.baseAddress!, pb.baseAddress!, py.baseAddress!, pm.baseAddress, ps.baseAddress)
                let call = { (r: UnsafePointer<Float>?) in
                    for start in stride(from: 0, to: rows, by: split) {
                        NormKernels.layerNorm(start..<min(rows, start + split), x: x0, residual: r, d: d, gamma: g0, beta: b0, epsilon: 1e-5,
                                              y: y0, mean: m0, rstd: s0, kernels: set)
                    }
                }
                if let residual { residual.withUnsafeBufferPointer { call($0.baseAddress) } } else { call(nil) }
            }}}
        }}}
        return (y, mean, rstd)
    }

    static func rmsNorm(_ x: [Float], d: Int, gamma: [Float], set: KernelSet) -> (y: [Float], rstd: [Float]) {
        let rows = x.count / d
        var y = [Float](repeating: .nan, count: x.count), rstd = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { px in gamma.withUnsafeBufferPointer { pg in
            y.withUnsafeMutableBufferPointer { py in rstd.withUnsafeMutableBufferPointer { ps in
                NormKernels.rmsNorm(0..<rows, x: px.baseAddress!, d: d, gamma: pg.baseAddress!, epsilon: 1e-6, y: py.baseAddress!,
                                    rstd: ps.baseAddress!, kernels: set)
            }}
        }}
        return (y, rstd)
    }

    static func bitMismatches(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }

    /// One set against the reference and against the AVX2 loop's bits.
    static func check(_ set: KernelSet) {
        for (index, d) in widths.enumerated() {
            for offset: Float in [0, 300] {
                let n = rows(d) * d, seed = UInt64(index * 2) + (offset == 0 ? 1 : 2)
                let x = data(n, seed: seed, offset: offset), r = data(n, seed: seed + 100, offset: 0)
                let gamma = data(d, seed: seed + 200, offset: 1), beta = data(d, seed: seed + 300, offset: 0)
                let shape = [rows(d), d]
                // Reference: the Double plain loop on x, and on x + r (the Float sum, as the kernel rounds it).
                let sum = zip(x, r).map { $0 + $1 }
                let gt = Tensor(shape: [d], scalars: gamma), bt = Tensor(shape: [d], scalars: beta)
                let expected = Reference.layerNorm(Tensor(shape: shape, scalars: x), gamma: gt, beta: bt)
                let expectedSum = Reference.layerNorm(Tensor(shape: shape, scalars: sum), gamma: gt, beta: bt)
                for split in [rows(d), 3] {
                    let y = layerNorm(x, residual: nil, d: d, gamma: gamma, beta: beta, set: set, split: split)
                    let excess = closenessExcess(Tensor(shape: shape, scalars: y.y), expected, rtol: 5e-7, atol: 1e-6)
                    #expect(excess <= 0, "\(set) layerNorm d=\(d) offset=\(offset) split=\(split): \(excess)")
                    let ys = layerNorm(x, residual: r, d: d, gamma: gamma, beta: beta, set: set, split: split)
                    let excessSum = closenessExcess(Tensor(shape: shape, scalars: ys.y), expectedSum, rtol: 5e-7, atol: 1e-6)
                    #expect(excessSum <= 0, "\(set) layerNorm + residual d=\(d) offset=\(offset) split=\(split): \(excessSum)")
                    // The residual is the Float sum then the norm, bit for bit.
                    let viaSum = layerNorm(sum, residual: nil, d: d, gamma: gamma, beta: beta, set: set, split: split)
                    #expect(bitMismatches(ys.y, viaSum.y) == 0 && bitMismatches(ys.rstd, viaSum.rstd) == 0, "\(set) residual d=\(d)")
                    if set != .avx2 {
                        let base = layerNorm(x, residual: nil, d: d, gamma: gamma, beta: beta, set: .avx2, split: split)
                        #expect(bitMismatches(y.y, base.y) == 0 && bitMismatches(y.mean, base.mean) == 0 && bitMismatches(y.rstd, base.rstd) == 0,
                                "\(set) layerNorm d=\(d) offset=\(offset): bits differ from avx2")
                    }
                }
                let rms = rmsNorm(x, d: d, gamma: gamma, set: set)
                let expectedRMS = Reference.rmsNorm(Tensor(shape: shape, scalars: x), gamma: gt)
                let excessRMS = closenessExcess(Tensor(shape: shape, scalars: rms.y), expectedRMS, rtol: 5e-7, atol: 1e-7)
                #expect(excessRMS <= 0, "\(set) rmsNorm d=\(d) offset=\(offset): \(excessRMS)")
                if set != .avx2 {
                    let base = rmsNorm(x, d: d, gamma: gamma, set: .avx2)
                    #expect(bitMismatches(rms.y, base.y) == 0 && bitMismatches(rms.rstd, base.rstd) == 0, "\(set) rmsNorm d=\(d): bits differ from avx2")
                }
            }
        }
    }

    @Test func avx2MatchesReference() { Self.check(.avx2) }

    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 norm loops skipped: this CPU lacks AVX-512 F/BW/VL/VNNI"))
    func avx512MatchesReferenceAndAVX2Bits() { Self.check(.avx512VNNI) }

    /// AVX-VNNI has no norm loops of its own: under that set the norms run the AVX2 loop.
    @Test(.enabled(if: KernelSet.avxVNNI.supported, "AVX-VNNI set skipped: this CPU lacks AVX-VNNI"))
    func avxVNNIRunsTheAVX2Loop() { Self.check(.avxVNNI) }

    /// The public entry points on the process's set, threads included: addingLayerNorm is the
    /// sum then the norm, bit for bit; statistics as layerNorm's.
    @Test func addingLayerNormIsSumThenNorm() {
        var rng = RandomGenerator(seed: 9)
        for shape in [[3, 17], [2048, 384], [5, 1]] {
            let x = rng.normal(shape: shape, std: 2), r = rng.normal(shape: shape, std: 3)
            let d = shape[1]
            let (g, b) = (rng.normal(shape: [d], mean: 1, std: 0.5), rng.normal(shape: [d], std: 0.5))
            let fused = x.addingLayerNorm(r, gamma: g, beta: b), composed = (x + r).layerNorm(gamma: g, beta: b)
            #expect(Self.bitMismatches(fused.scalars, composed.scalars) == 0, "\(shape)")
            #expect(isClose(composed, Reference.layerNorm(x + r, gamma: g, beta: b), rtol: 5e-7, atol: 1e-6), "\(shape)")
        }
    }
}
