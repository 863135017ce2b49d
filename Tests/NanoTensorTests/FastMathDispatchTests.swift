import Foundation
@testable import NanoTensor
import Testing

/// The tensor core's AVX-512 loops (exp, shifted exp for softmax rows, GELU erf forward and
/// backward) against the AVX2 Swift loops, bit for bit: an evenly spaced grid over each
/// function's range, a walk over float bit patterns (subnormals to ∞, both signs), special
/// values, and lengths that leave a tail of every size below 16.
@Suite struct FastMathDispatchTests {
    static func inputs(grid range: ClosedRange<Float>) -> [Float] {
        var x: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                          .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 88.72, 88.8, -103.9, -104, 4, -4, 1e-20]
        let steps = 40_000
        for i in 0...steps { x.append(range.lowerBound + (range.upperBound - range.lowerBound) * Float(i) / Float(steps)) }
        var bits: UInt32 = 1
        while bits < 0x7F80_0000 {
            x.append(Float(bitPattern: bits)); x.append(-Float(bitPattern: bits))
            bits = bits &+ (bits >> 6) &+ 1
        }
        return x
    }

    static func same(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
    }

    /// Runs `body(kernels, count)` on every tail length 0…17 and on the whole input, for both sets.
    static func compare(_ x: [Float], _ body: (KernelSet, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Int {
        var mismatches = 0
        for count in Array(0...17) + [x.count] {
            var outs: [[Float]] = []
            for set in [KernelSet.avx2, .avx512VNNI] {
                var y = [Float](repeating: -7, count: x.count)
                x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in body(set, px.baseAddress!, py.baseAddress!, count) } }
                outs.append(y)
            }
            mismatches += same(outs[0], outs[1])
        }
        return mismatches
    }

    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 tensor-core loops skipped: this CPU lacks AVX-512"))
    func avx512LoopsMatchAVX2BitForBit() {
        let x = Self.inputs(grid: -110...95)
        #expect(Self.compare(x) { set, s, d, n in FastMath.exp(s, d, count: n, kernels: set) } == 0, "exp")
        #expect(Self.compare(x) { set, s, d, n in SoftmaxKernels.shiftedExp(s, 3.25, d, n, kernels: set) } == 0, "shifted exp")
        let g = Self.inputs(grid: -12...12)
        #expect(Self.compare(g) { set, s, d, n in ActivationMath.geluErf(s, d, n, kernels: set) } == 0, "gelu")
        let upstream = g.indices.map { Float(($0 % 13)) * 0.37 - 2 }
        #expect(Self.compare(g) { set, s, d, n in
            upstream.withUnsafeBufferPointer { ActivationMath.geluErfBackward(s, $0.baseAddress!, d, n, kernels: set) }
        } == 0, "gelu backward")
    }

    /// The AVX-512 exp against Foundation, as FastMathTests holds the Swift one (8.3e-8 relative).
    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 tensor-core loops skipped: this CPU lacks AVX-512"))
    func avx512ExpIsAccurate() {
        let x = (0...20_000).map { -80 + 160 * Float($0) / 20_000 }
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { FastMath.exp(px.baseAddress!, $0.baseAddress!, count: x.count, kernels: .avx512VNNI) } }
        let worst = zip(x, y).map { abs(Double($1) - Foundation.exp(Double($0))) / Foundation.exp(Double($0)) }.max() ?? 1
        #expect(worst < 1e-7)
    }
}
