import Testing
import NanoTensor

/// Float32 ↔ Float16/BFloat16 bit conversions. Swift's `Float16` (IEEE-correct, F16C here) is the
/// oracle for binary16; bfloat16 is checked against an independent rounding in Double.
@Suite struct HalfPrecisionTests {
    // MARK: Float16

    /// Widening is exact for all 65,536 patterns, and narrowing gives the pattern back. A signalling
    /// NaN comes back quiet (quiet bit 0x0200 set), as IEEE 754 conversions require.
    @Test func everyFloat16PatternRoundTrips() {
        for raw in 0...UInt16.max {
            let f = HalfPrecision.float(fromFloat16: raw)
            let oracle = Float(Float16(bitPattern: raw))
            #expect(f.bitPattern == oracle.bitPattern, "widening \(hex(raw))")
            let isNaN = raw & 0x7C00 == 0x7C00 && raw & 0x03FF != 0
            #expect(HalfPrecision.float16Bits(f) == (isNaN ? raw | 0x0200 : raw), "round trip \(hex(raw))")
        }
    }

    @Test func float16SpecialValues() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (1.0 / 3, 0x3555), (0.1, 0x2E66),
            (65504, 0x7BFF), (65519.996, 0x7BFF), (65520, 0x7C00), (1e6, 0x7C00), (-.greatestFiniteMagnitude, 0xFC00),
            (.infinity, 0x7C00), (-.infinity, 0xFC00), (.nan, 0x7E00), (-Float.nan, 0xFE00),
            (0x1p-14, 0x0400), (0x1p-24, 0x0001), (0x1p-25, 0x0000), (-0x1p-25, 0x8000), (0x1.000002p-25, 0x0001),
            (0x1.8p-24, 0x0002), (0x1.ff8p-15, 0x03FF), (0x1.ffcp-15, 0x0400), (.leastNonzeroMagnitude, 0x0000),
        ]
        for (x, bits) in cases { #expect(HalfPrecision.float16Bits(x) == bits, "\(x) → \(hex(HalfPrecision.float16Bits(x)))") }
        // NaN payload: top bits kept under the quiet bit, never collapsing into Inf.
        #expect(HalfPrecision.float16Bits(Float(bitPattern: 0x7F80_2001)) == 0x7E01)
        #expect(HalfPrecision.float16Bits(Float(bitPattern: 0xFF80_0001)) == 0xFE00)
    }

    /// The exact midpoint between every pair of adjacent binary16 values rounds to the even one;
    /// the Float32 neighbours of the midpoint round to the nearer. Includes 65520 → Inf and the
    /// subnormal range.
    @Test func float16TiesRoundToEven() {
        for sign in [UInt16(0), 0x8000] {
            for h in UInt16(0)...0x7BFF {
                let lo = Double(HalfPrecision.float(fromFloat16: h))
                let hi = h == 0x7BFF ? 65536.0 : Double(HalfPrecision.float(fromFloat16: h + 1))
                let mid = Float((lo + hi) / 2)
                #expect(Double(mid) == (lo + hi) / 2)
                let x = sign == 0 ? mid : -mid
                let even = h & 1 == 0 ? h : h + 1
                #expect(HalfPrecision.float16Bits(x) == sign | even, "tie above \(hex(h))")
                #expect(HalfPrecision.float16Bits(sign == 0 ? mid.nextUp : -mid.nextUp) == sign | (h + 1))
                #expect(HalfPrecision.float16Bits(sign == 0 ? mid.nextDown : -mid.nextDown) == sign | h)
            }
        }
    }

    /// Millions of Float32 patterns against `Float16(x)`: half drawn uniformly over all 2^32
    /// patterns (NaNs, overflow, underflow), half with exponents in and around binary16's range.
    @Test func float16MatchesSwiftFloat16OnRandomPatterns() {
        var rng = RandomGenerator(seed: 40)
        var mismatches = 0
        for i in 0..<4_000_000 {
            var bits = UInt32(truncatingIfNeeded: rng.next())
            if i & 1 == 1 {
                // Exponent 100...145: binary16 subnormals, normals and the overflow boundary.
                let exponent = UInt32(100 + rng.nextInt(below: 46))
                bits = (bits & 0x807F_FFFF) | (exponent << 23)
            }
            let x = Float(bitPattern: bits)
            if HalfPrecision.float16Bits(x) != Float16(x).bitPattern {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(hex(bits)): got \(hex(HalfPrecision.float16Bits(x))), Float16 gives \(hex(Float16(x).bitPattern))") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func float16ArrayFormsMatchScalars() {
        var rng = RandomGenerator(seed: 41)
        let xs = (0..<1000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        let bits = HalfPrecision.float16Bits(xs)
        #expect(bits == xs.map { HalfPrecision.float16Bits($0) })
        let back = HalfPrecision.floats(fromFloat16: bits)
        #expect(back.map(\.bitPattern) == bits.map { HalfPrecision.float(fromFloat16: $0).bitPattern })
        #expect(HalfPrecision.float16Bits([Float]()).isEmpty)
    }

    // MARK: BFloat16

    /// Round to nearest even at bfloat16 precision, computed in Double without looking at bits:
    /// scale by the quantum of x's binade (fixed at 2^-133 below 2^-126), round, scale back.
    static func referenceBFloat16(_ x: Float) -> UInt16 {
        let magnitude = Double(x.magnitude)
        var value = 0.0
        if magnitude != 0 {
            let quantum = Double(sign: .plus, exponent: Swift.max(magnitude.exponent, -126) - 7, significand: 1)
            let n = magnitude / quantum                      // exact: at most 24 significant bits
            let down = n.rounded(.down), fraction = n - down
            let even = down.truncatingRemainder(dividingBy: 2) == 0
            let count = fraction > 0.5 || (fraction == 0.5 && !even) ? down + 1 : down
            value = count * quantum
        }
        let signBit: UInt16 = x.sign == .minus ? 0x8000 : 0
        if value >= 0x1p128 { return signBit | 0x7F80 }
        let f = Float(value)
        precondition(Double(f) == value && f.bitPattern & 0xFFFF == 0, "reference produced a non-bfloat16 value")
        return signBit | UInt16(f.bitPattern >> 16)
    }

    @Test func bfloat16MatchesDoubleReferenceOnRandomPatterns() {
        var rng = RandomGenerator(seed: 42)
        var mismatches = 0
        for i in 0..<2_000_000 {
            var bits = UInt32(truncatingIfNeeded: rng.next())
            if i % 4 == 0 { bits = (bits & 0xFFFF_0000) | 0x8000 }   // exact ties
            if i % 4 == 1 { bits |= 0x7F00_0000 }                     // near the overflow boundary
            let x = Float(bitPattern: bits)
            if x.isNaN { continue }
            if HalfPrecision.bfloat16Bits(x) != Self.referenceBFloat16(x) {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(hex(bits)): got \(hex(HalfPrecision.bfloat16Bits(x))), reference \(hex(Self.referenceBFloat16(x)))") }
            }
        }
        #expect(mismatches == 0)
    }

    /// Every bfloat16 pattern: exact widening and round trip; the midpoint to the next pattern
    /// rounds to even and its neighbours to the nearer.
    @Test func everyBFloat16PatternRoundTripsAndTiesRoundToEven() {
        for raw in 0...UInt16.max {
            let f = HalfPrecision.float(fromBFloat16: raw)
            #expect(f.bitPattern == UInt32(raw) << 16)
            let isNaN = raw & 0x7F80 == 0x7F80 && raw & 0x007F != 0
            #expect(HalfPrecision.bfloat16Bits(f) == (isNaN ? raw | 0x0040 : raw), "round trip \(hex(raw))")
            guard raw & 0x7FFF < 0x7F80 else { continue }
            let mid = Float(bitPattern: UInt32(raw) << 16 | 0x8000)
            let even = raw & 1 == 0 ? raw : raw + 1
            #expect(HalfPrecision.bfloat16Bits(mid) == even, "tie above \(hex(raw))")
            #expect(Self.referenceBFloat16(mid) == even)
            #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: mid.bitPattern + 1)) == raw + 1)
            #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: mid.bitPattern - 1)) == raw)
        }
    }

    @Test func bfloat16SpecialValues() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3F80), (-1, 0xBF80), (.pi, 0x4049), (1.0 / 3, 0x3EAB),
            (.greatestFiniteMagnitude, 0x7F80), (.infinity, 0x7F80), (-.infinity, 0xFF80), (.nan, 0x7FC0),
            (.leastNonzeroMagnitude, 0x0000), (.leastNormalMagnitude, 0x0080), (Float(bitPattern: 0x0000_8001), 0x0001),
        ]
        for (x, bits) in cases { #expect(HalfPrecision.bfloat16Bits(x) == bits, "\(x) → \(hex(HalfPrecision.bfloat16Bits(x)))") }
        // A NaN whose payload lives only in the low bits stays NaN rather than becoming Inf.
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x7F80_0001)) == 0x7FC0)
        let xs: [Float] = [1, -2.5, 3e38, .nan, 0x1.234p-130]
        #expect(HalfPrecision.bfloat16Bits(xs) == xs.map { HalfPrecision.bfloat16Bits($0) })
        #expect(HalfPrecision.floats(fromBFloat16: [0x3F80, 0xC020]) == [1, -2.5])
    }
}

private func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }
