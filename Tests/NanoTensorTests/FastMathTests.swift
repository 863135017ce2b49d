import Foundation
import Testing
import NanoTensor

/// FastMath against Foundation's Double functions over dense sweeps: an evenly spaced grid over
/// the interesting range, plus a walk over float bit patterns (every magnitude from the
/// subnormals up), plus special values.
@Suite struct FastMathTests {
    /// Worst relative error where the reference is a normal float, worst absolute error elsewhere.
    struct Errors {
        var relative = 0.0, absolute = 0.0, worstRelativeAt: Float = 0
        /// Absolute error where the reference is below the normal range (subnormal results).
        var absoluteWhereSubnormal = 0.0
    }

    static func measure(_ xs: [Float], _ fast: (Float) -> Float, _ reference: (Double) -> Double,
                        relativeAbove: Double = 0x1p-126) -> Errors {
        var e = Errors()
        for x in xs {
            let want = reference(Double(x)), got = Double(fast(x))
            if want.isNaN { #expect(got.isNaN, "f(\(x)) = \(got), expected NaN"); continue }
            if Float(want).isInfinite || want.isInfinite {
                #expect(got == Double(Float(want)), "f(\(x)) = \(got), expected \(Float(want))"); continue
            }
            let abs = Swift.abs(got - want)
            e.absolute = Swift.max(e.absolute, abs)
            if Swift.abs(want) < 0x1p-126 { e.absoluteWhereSubnormal = Swift.max(e.absoluteWhereSubnormal, abs) }
            if Swift.abs(want) >= relativeAbove, abs / Swift.abs(want) > e.relative {
                e.relative = abs / Swift.abs(want); e.worstRelativeAt = x
            }
        }
        return e
    }

    /// `count` evenly spaced points in [low, high].
    static func grid(_ low: Float, _ high: Float, count: Int) -> [Float] {
        (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
    }

    /// Every `step`-th float bit pattern between the magnitudes low and high, with both signs.
    static func bitWalk(_ low: Float, _ high: Float, step: UInt32 = 997, signs: [Float] = [1, -1]) -> [Float] {
        var out: [Float] = []
        for sign in signs {
            for bits in stride(from: low.bitPattern, through: high.bitPattern, by: Int(step)) {
                out.append(sign * Float(bitPattern: bits))
            }
        }
        return out
    }

    static let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, 0x1p-149, -0x1p-149, 1e-38, -1e-38, 1e-30, -1e-30,
                                    .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1]

    @Test func exp() {
        let xs = Self.grid(-104, 89, count: 400_000) + Self.bitWalk(0x1p-40, 110) + Self.specials
        let e = Self.measure(xs, FastMath.exp, Foundation.exp)
        // Measured: 8.3e-8 relative (under one ulp); subnormal results within 1.1e-45 (one ulp).
        #expect(e.relative <= 1e-7, "\(e)")
        #expect(e.absoluteWhereSubnormal <= 0x1p-149, "\(e)")
        #expect(FastMath.exp(-1e9) == 0)
        #expect(FastMath.exp(88.72) < .infinity && FastMath.exp(88.73) == .infinity)
    }

    @Test func tanh() {
        let xs = Self.grid(-20, 20, count: 400_000) + Self.bitWalk(0x1p-60, 1e6) + Self.specials
        let e = Self.measure(xs, FastMath.tanh, Foundation.tanh)
        // Measured: 1.43e-7 relative, worst just above the 0.625 switch to the exponential form.
        #expect(e.relative <= 1.6e-7, "\(e)")
        #expect(FastMath.tanh(-0.0 as Float).sign == .minus)
    }

    @Test func erf() {
        let xs = Self.grid(-6, 6, count: 400_000) + Self.bitWalk(0x1p-60, 1e6) + Self.specials
        let e = Self.measure(xs, FastMath.erf, Foundation.erf, relativeAbove: .infinity)
        let small = Self.measure(Self.bitWalk(0x1p-60, 0.5), FastMath.erf, Foundation.erf)
        // Measured: 3.4e-7 absolute (the approximation's own error, worst at 2 < |x| < 4);
        // 2.6e-7 relative for |x| ≤ 0.5.
        #expect(e.absolute <= 4e-7, "\(e)")
        #expect(small.relative <= 3e-7, "\(small)")
    }

    @Test func sigmoid() {
        let xs = Self.grid(-110, 110, count: 400_000) + Self.bitWalk(0x1p-60, 1e6) + Self.specials
        let e = Self.measure(xs, FastMath.sigmoid) { 1 / (1 + Foundation.exp(-$0)) }
        // Measured: 1.41e-7 relative wherever the result is a normal float.
        #expect(e.relative <= 1.6e-7, "\(e)")
    }

    @Test func log() {
        let xs = Self.bitWalk(0x1p-149, .greatestFiniteMagnitude, step: 1009, signs: [1]) + Self.grid(0.5, 2, count: 200_000)
            + Self.specials + [-1, -1e-30]
        let e = Self.measure(xs, FastMath.log, Foundation.log)
        // Measured: 7.8e-8 relative over every magnitude, subnormals included.
        #expect(e.relative <= 1e-7, "\(e)")
        #expect(FastMath.log(0) == -.infinity && FastMath.log(-0.0) == -.infinity)
        #expect(FastMath.log(-1).isNaN && FastMath.log(.infinity) == .infinity)
    }

    @Test func bufferFormsMatchScalarForms() {
        var rng = RandomGenerator(seed: 9)
        let xs = (0..<1003).map { _ in rng.uniform(-30, 30) } // odd count: exercises the vector tails
        let forms: [(String, (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, (Float) -> Float)] = [
            ("exp", { FastMath.exp($0, $1, count: $2) }, FastMath.exp),
            ("tanh", { FastMath.tanh($0, $1, count: $2) }, FastMath.tanh),
            ("erf", { FastMath.erf($0, $1, count: $2) }, FastMath.erf),
            ("sigmoid", { FastMath.sigmoid($0, $1, count: $2) }, FastMath.sigmoid),
            ("log", { FastMath.log($0, $1, count: $2) }, FastMath.log),
        ]
        for (name, buffer, scalar) in forms {
            var out = [Float](repeating: 0, count: xs.count)
            xs.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in buffer(s.baseAddress!, d.baseAddress!, s.count) } }
            let same = zip(xs, out).allSatisfy { x, y in y.bitPattern == scalar(x).bitPattern }
            #expect(same, "\(name): buffer form differs from scalar form")
        }
    }
}
