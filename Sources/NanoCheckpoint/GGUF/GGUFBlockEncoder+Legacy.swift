/// ggml's 32-element blocks, encoded as `quantize_row_q8_0_ref` … `quantize_row_q5_1_ref`
/// (ggml-quants.c) do. The scale is computed and divided by in Float32 and stored rounded to f16
/// afterwards; codes come from C's truncating casts of `x · id + ½` (Q4/Q5) or `roundf` (Q8_0).
/// Layouts as `GGUFBlocks+Legacy.swift` decodes them.
extension GGUFBlockEncoder {
    /// Q8_0: d = amax / 127, codes roundf(x / d) (half away from zero).
    static func encodeQ8_0(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        for b in 0..<blocks {
            let v = x + 32 * b, y = out + 34 * b
            var amax: Float = 0
            for j in 0..<32 { amax = cMax(amax, abs(v[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            storeF16(d, y)
            for j in 0..<32 { y[2 + j] = UInt8(bitPattern: cInt8((v[j] * id).rounded())) }
        }
    }

    /// The signed value of largest magnitude (the first on ties), as the `_0` types scale by.
    @inline(__always) private static func signedMax(_ v: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 where amax < abs(v[j]) { amax = abs(v[j]); max = v[j] }
        return max
    }

    /// The smallest and largest value of a block (the `_1` types' offset and range).
    @inline(__always) private static func minMax(_ v: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if v[j] < min { min = v[j] }
            if v[j] > max { max = v[j] }
        }
        return (min, max)
    }

    /// `(uint8_t)MIN(limit, (int8_t)t)`.
    @inline(__always) private static func capped(_ t: Float, _ limit: Int8) -> UInt8 {
        UInt8(bitPattern: Swift.min(limit, cInt8(t)))
    }

    /// Q4_0: d = m / −8 for m the signed max; codes min(15, (int8)(x / d + 8.5)).
    static func encodeQ4_0(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        for b in 0..<blocks {
            let v = x + 32 * b, y = out + 18 * b
            let d = signedMax(v) / -8
            let id: Float = d != 0 ? 1 / d : 0
            storeF16(d, y)
            for j in 0..<16 {
                let low = capped(v[j] * id + 8.5, 15), high = capped(v[j + 16] * id + 8.5, 15)
                y[2 + j] = low | high << 4
            }
        }
    }

    /// Q4_1: d = (max − min) / 15, m = min; codes min(15, (int8)((x − min) / d + 0.5)).
    static func encodeQ4_1(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        for b in 0..<blocks {
            let v = x + 32 * b, y = out + 20 * b
            let (min, max) = minMax(v)
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            storeF16(d, y)
            storeF16(min, y + 2)
            for j in 0..<16 {
                let low = capped((v[j] - min) * id + 0.5, 15), high = capped((v[j + 16] - min) * id + 0.5, 15)
                y[4 + j] = low | high << 4
            }
        }
    }

    /// Q5_0: d = m / −16; codes min(31, (int8)(x / d + 16.5)), the fifth bits in a uint32.
    static func encodeQ5_0(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        for b in 0..<blocks {
            let v = x + 32 * b, y = out + 22 * b
            let d = signedMax(v) / -16
            let id: Float = d != 0 ? 1 / d : 0
            storeF16(d, y)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let low = capped(v[j] * id + 16.5, 31), high = capped(v[j + 16] * id + 16.5, 31)
                y[6 + j] = (low & 0x0F) | (high & 0x0F) << 4
                qh |= UInt32((low & 0x10) >> 4) << UInt32(j) | UInt32((high & 0x10) >> 4) << UInt32(j + 16)
            }
            storeUInt32(qh, y + 2)
        }
    }

    /// Q5_1: d = (max − min) / 31, m = min; codes (uint8)((x − min) / d + 0.5), uncapped as in ggml.
    static func encodeQ5_1(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        for b in 0..<blocks {
            let v = x + 32 * b, y = out + 24 * b
            let (min, max) = minMax(v)
            let d = (max - min) / 31
            let id: Float = d != 0 ? 1 / d : 0
            storeF16(d, y)
            storeF16(min, y + 2)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let low = UInt8(truncatingIfNeeded: cTruncate((v[j] - min) * id + 0.5))
                let high = UInt8(truncatingIfNeeded: cTruncate((v[j + 16] - min) * id + 0.5))
                y[8 + j] = (low & 0x0F) | (high & 0x0F) << 4
                qh |= UInt32((low & 0x10) >> 4) << UInt32(j) | UInt32((high & 0x10) >> 4) << UInt32(j + 16)
            }
            storeUInt32(qh, y + 4)
        }
    }

    /// A little-endian uint32 at `p` (any alignment).
    @inline(__always) static func storeUInt32(_ value: UInt32, _ p: UnsafeMutablePointer<UInt8>) {
        for i in 0..<4 { p[i] = UInt8(truncatingIfNeeded: value >> UInt32(8 * i)) }
    }
}
