import Foundation
import Testing
import NanoForge
import NanoTensor
@testable import NanoExport
@testable import NanoQuant

/// The fixed-point helpers of the C export against Double references on random values.
@Suite struct CFixedPointTests {
    static func pow2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }

    @Test func quantizeMultiplierIsWithinOneQ31Step() throws {
        var rng = RandomGenerator(seed: 7)
        for _ in 0..<10_000 {
            let m = exp(Double(rng.uniform(shape: [1], low: -25, high: 12).scalars[0]))   // 1.4e-11 … 1.6e5
            let q = try #require(FixedPoint.quantizeMultiplier(m))
            if q.multiplier == 0 { #expect(m < Self.pow2(-32)); continue }
            #expect(q.multiplier >= 1 << 30, "\(m)")
            // multiplier = round(q · 2^31): off by at most half a unit of the Q31 value.
            #expect(abs(q.value - m) <= Self.pow2(-32 - Int(q.shift)) * 1.000001, "\(m) → \(q)")
        }
        // A significand that rounds up to 2^31 is halved and the exponent raised.
        #expect(FixedPoint.quantizeMultiplier(1 - 1e-12) == FixedPoint.Multiplier(multiplier: 1 << 30, shift: -1))
        #expect(FixedPoint.quantizeMultiplier(0.5) == FixedPoint.Multiplier(multiplier: 1 << 30, shift: 0))
        #expect(FixedPoint.quantizeMultiplier(0) == FixedPoint.Multiplier(multiplier: 0, shift: 0))
        #expect(FixedPoint.quantizeMultiplier(0x1p-40) == FixedPoint.Multiplier(multiplier: 0, shift: 0))
        #expect(FixedPoint.quantizeMultiplier(0x1p31) == nil && FixedPoint.quantizeMultiplier(-1) == nil)
        #expect(FixedPoint.quantizeMultiplier(.nan) == nil)
    }

    @Test func saturatingRoundingDoublingHighMulRoundsTheProduct() {
        var rng = RandomGenerator(seed: 8)
        for _ in 0..<20_000 {
            let a = Int32(truncatingIfNeeded: rng.next()), b = Int32(truncatingIfNeeded: rng.next())
            let reference = Double(a) * Double(b) / Self.pow2(31)
            let r = FixedPoint.saturatingRoundingDoublingHighMul(a, b)
            if a == Int32.min && b == Int32.min { continue }
            // Double's product is within 2^-22 of the exact one at these magnitudes.
            #expect(abs(Double(r) - reference) <= 0.5 + 1e-6, "\(a) · \(b)")
        }
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(Int32.min, Int32.min) == Int32.max)
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(Int32.min, Int32.max) == -Int32.max)
        // gemmlowp's nudge rounds exact halves up (toward +∞): 2 · 2^15 · 2^15 / 2^32 = 0.5.
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(1 << 15, 1 << 15) == 1)
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(-(1 << 15), 1 << 15) == 0)
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(3 << 14, 1 << 16) == 2)      // 1.5
        #expect(FixedPoint.saturatingRoundingDoublingHighMul(-(3 << 14), 1 << 16) == -1)  // -1.5
    }

    @Test func roundingDivideByPOTRoundsHalfAwayFromZero() {
        var rng = RandomGenerator(seed: 9)
        for i in 0..<20_000 {
            let x = i < 100 ? Int32(i - 50) : Int32(truncatingIfNeeded: rng.next())
            let e = Int32(i % 32)
            let reference = (Double(x) / Self.pow2(Int(e))).rounded(.toNearestOrAwayFromZero)   // exact in Double
            #expect(FixedPoint.roundingDivideByPOT(x, e) == Int32(reference), "\(x) / 2^\(e)")
        }
        #expect(FixedPoint.roundingDivideByPOT(Int32.min, 31) == -1)
        #expect(FixedPoint.roundingDivideByPOT(Int32.max, 31) == 1)
    }

    @Test func multiplyByQuantizedMultiplierMatchesTheRealProduct() throws {
        var rng = RandomGenerator(seed: 10)
        for _ in 0..<20_000 {
            let m = exp(Double(rng.uniform(shape: [1], low: -16, high: 2).scalars[0]))   // 1e-7 … 7.4
            let q = try #require(FixedPoint.quantizeMultiplier(m))
            let limit = Int64(Double(1 << 30) / max(m, 1))
            let x = Int32(Int64(rng.next() % UInt64(2 * limit)) - limit)
            let r = FixedPoint.multiply(x, by: q)
            // Two roundings (high multiply, divide) and the multiplier's own error.
            let exact = Double(x) * m
            #expect(abs(Double(r) - exact) <= 1 + abs(exact) * 1e-9, "\(x) · \(m) → \(r)")
        }
        // A left shift saturates (to 2^31 − 1, then × 4 · 2^−3) instead of overflowing.
        let big = try #require(FixedPoint.quantizeMultiplier(4))
        #expect(big == FixedPoint.Multiplier(multiplier: 1 << 30, shift: -3))
        #expect(FixedPoint.multiply(Int32.max / 2, by: big) == 1 << 30)
        #expect(FixedPoint.multiply(-1000, by: big) == -4000)
    }

    @Test func requantizeClampsAndFusesReLU() throws {
        let half = try #require(FixedPoint.quantizeMultiplier(0.5))
        #expect(FixedPoint.requantize(11, half, outputZeroPoint: 3, activationMinimum: -128) == 9)   // 5.5 → 6, + 3
        #expect(FixedPoint.requantize(-1000, half, outputZeroPoint: 3, activationMinimum: 3) == 3)
        #expect(FixedPoint.requantize(-1000, half, outputZeroPoint: 3, activationMinimum: -128) == -128)
        #expect(FixedPoint.requantize(1000, half, outputZeroPoint: 3, activationMinimum: -128) == 127)
    }

    @Test func inputQuantizationRoundsTiesToEven() {
        let p = QuantizationParameters(scale: 0.5, zeroPoint: -10)
        #expect([1.25, 1.75, -1.25, -0.25, 0.25, 1000, -1000, .nan].map { FixedPoint.quantizeInput($0, p) }
            == [-8, -6, -12, -10, -10, 127, -128, -128])
        #expect(FixedPoint.argmax([3, 7, 7, -1]) == 1)
    }

    @Test func floatLiteralsAreExact() {
        var rng = RandomGenerator(seed: 12)
        let specials: [Float] = [1, -1, 0.5, 0x1p-126, 0x1p-149, 0x1.fffffep127, 3.0e-8, -0.003921569]
        for x in specials + (0..<2000).map({ _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }) where x.isFinite {
            let literal = CSyntax.float(x)
            #expect(literal.hasSuffix("f") && Float(String(literal.dropLast())) == x, "\(x) → \(literal)")
        }
        #expect(CSyntax.float(1) == "0x1.000000p0f" && CSyntax.int32(Int32.min) == "(-2147483647 - 1)")
    }

    @Test func commentsCannotBeClosedOrSpliced() {
        let lines = CSyntax.commentLines("a */ b /* c ??/\r\nd **/ e\u{1}f")
        #expect(lines == ["a *\\/ b /\\* c ?\\?/", "d **\\/ e f"])
        #expect(lines.allSatisfy { !$0.contains("*/") && !$0.contains("/*") && !$0.contains("??") })
    }
}
