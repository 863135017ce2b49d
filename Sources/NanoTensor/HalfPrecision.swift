/// Conversions between Float32 and the 16-bit formats IEEE binary16 (Float16) and bfloat16,
/// as raw bit patterns, by integer bit manipulation.
///
/// Narrowing rounds to nearest, ties to even (IEEE 754 default), with overflow to ±Inf, gradual
/// underflow to subnormals and signed zeros kept. A NaN stays a NaN of the same sign: its payload
/// is truncated to the high bits and the quiet bit is set (as the x86 F16C instructions and
/// `Float16.init(_: Float)` do), so a NaN never turns into an infinity. Widening is exact.
public enum HalfPrecision {
    // MARK: Float16

    /// The binary16 bit pattern nearest to `x` (round to nearest, ties to even).
    @inline(__always)
    public static func float16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            // Inf keeps a zero mantissa; NaN keeps its top 9 payload bits under the quiet bit.
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x03FF)
        }
        // 65520 = 65504 (largest binary16) + half an ulp: the tie rounds to the even neighbour, 2^16 → Inf.
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }
        if magnitude >= 0x3880_0000 {
            // Normal in binary16: rebias the exponent (127 → 15), then round away 13 mantissa
            // bits. A carry out of the mantissa correctly bumps the exponent.
            let rebased = magnitude &- 0x3800_0000
            let rounded = rebased &+ 0x0FFF &+ ((rebased >> 13) & 1)
            return sign | UInt16(truncatingIfNeeded: rounded >> 13)
        }
        // Below 2^-14: a binary16 subnormal, in units of 2^-24. At most 2^-25 (half the smallest
        // subnormal, a tie with zero) rounds to ±0; this also covers Float32 zeros and subnormals.
        if magnitude <= 0x3300_0000 { return sign }
        let exponent = magnitude >> 23                                  // 102...112
        let significand = (magnitude & 0x007F_FFFF) | 0x0080_0000       // 24 bits
        let shift = 126 &- exponent                                      // 14...24
        let quotient = significand >> shift
        let remainder = significand & ((1 << shift) &- 1)
        let halfway = UInt32(1) << (shift &- 1)
        let roundUp = remainder > halfway || (remainder == halfway && quotient & 1 == 1)
        // A carry into bit 10 yields 0x400, the smallest normal: exactly right.
        return sign | UInt16(truncatingIfNeeded: quotient &+ (roundUp ? 1 : 0))
    }

    /// The Float32 value of a binary16 bit pattern (exact; a NaN is returned quiet).
    @inline(__always)
    public static func float(fromFloat16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa == 0 ? 0 : 0x0040_0000 | mantissa << 13))
        }
        if exponent != 0 {
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
        // Zero or subnormal: mantissa · 2^-24 is exact in Float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: sign | magnitude.bitPattern)
    }

    /// The binary16 bit patterns of `values`, element by element.
    public static func float16Bits(_ values: [Float]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = float16Bits(src[i]) }
            }
            initialized = values.count
        }
    }

    /// The Float32 values of binary16 bit patterns, element by element.
    public static func floats(fromFloat16 bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { out, initialized in
            bits.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = float(fromFloat16: src[i]) }
            }
            initialized = bits.count
        }
    }

    // MARK: BFloat16

    /// The bfloat16 bit pattern nearest to `x` (round to nearest, ties to even).
    ///
    /// bfloat16 is the top half of a Float32 (same exponent range), so rounding is one add on
    /// the bit pattern: a carry ripples into the exponent, and past the largest finite value into
    /// Inf. Subnormals round the same way.
    @inline(__always)
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040    // NaN: truncate payload, set quiet bit
        }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The Float32 value of a bfloat16 bit pattern (exact: the bits become the top half).
    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 bit patterns of `values`, element by element.
    public static func bfloat16Bits(_ values: [Float]) -> [UInt16] {
        [UInt16](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = bfloat16Bits(src[i]) }
            }
            initialized = values.count
        }
    }

    /// The Float32 values of bfloat16 bit patterns, element by element.
    public static func floats(fromBFloat16 bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { out, initialized in
            bits.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = float(fromBFloat16: src[i]) }
            }
            initialized = bits.count
        }
    }
}
