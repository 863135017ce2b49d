/// ggml's K-quant super-blocks of 256 elements, decoded as `dequantize_row_q2_K` …
/// `dequantize_row_q6_K` (ggml-quants.c) and gguf-py's `Q2_K` … `Q6_K.dequantize_blocks` do.
/// A super-block holds an f16 scale d (and an f16 dmin for the types with offsets) and
/// sub-block scales of 4 to 8 bits; the element codes are spread over bit planes as each loop
/// below reads them.
///
/// Float32 operations follow gguf-py's order: the sub-block scale `d · sc` (and offset
/// `dmin · m`) first, then `scale · q` (`− offset`). The products are exact (11 + 7 + 5 bits at
/// most), so only the subtraction rounds.
extension GGUFBlocks {
    static let superBlock = 256

    /// Q2_K (84 bytes): 16 scale bytes (low nibble scale, high nibble min, one per 16 elements),
    /// 64 bytes of 2-bit codes, d, dmin. Element 128h + 32s + l is bits 2s…2s+1 of byte 32h + l.
    static func decodeQ2_K(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 84, y = out + b * superBlock
            let scales = block, qs = block + 16
            let d = f16(block + 80), dmin = f16(block + 82)
            for e16 in 0..<16 {
                let sc = scales[e16]
                let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                for i in 0..<16 {
                    let e = 16 * e16 + i
                    let shift = UInt8(2 * ((e & 127) >> 5))
                    let q = (qs[(e >> 7) * 32 + (e & 31)] >> shift) & 3
                    y[e] = dl * Float(q) - ml
                }
            }
        }
    }

    /// Q3_K (110 bytes): 32 bytes of high bits (element e: bit e/32 of byte e % 32, set meaning
    /// no −4), 64 bytes of 2-bit codes laid out as Q2_K's, 12 bytes holding sixteen 6-bit scales
    /// (biased by 32), d.
    static func decodeQ3_K(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 110, y = out + b * superBlock
            let hmask = block, qs = block + 32, packed = block + 96
            let d = f16(block + 108)
            for e16 in 0..<16 {
                // Low 4 bits: nibble e16/8 of byte e16 % 8; high 2 bits: pair e16/4 of byte 8 + e16 % 4.
                let low = (packed[e16 & 7] >> UInt8(4 * (e16 >> 3))) & 0x0F
                let high = (packed[8 + (e16 & 3)] >> UInt8(2 * (e16 >> 2))) & 0x03
                let dl = d * Float(Int(low | high << 4) - 32)
                for i in 0..<16 {
                    let e = 16 * e16 + i
                    let shift = UInt8(2 * ((e & 127) >> 5))
                    let q2 = Int((qs[(e >> 7) * 32 + (e & 31)] >> shift) & 3)
                    let bit = Int((hmask[e & 31] >> UInt8(e >> 5)) & 1)
                    y[e] = dl * Float(q2 - (bit ^ 1) * 4)
                }
            }
        }
    }

    /// The 6-bit scale and min of sub-block j (0..<8) from Q4_K's and Q5_K's 12 packed bytes
    /// (ggml's `get_scale_min_k4`).
    @inline(__always) static func scaleMinK4(_ j: Int, _ s: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }

    /// Q4_K (144 bytes): d, dmin, 12 bytes of eight 6-bit scales and mins (one per 32 elements),
    /// 128 bytes of nibbles: element 64c + l is the low nibble of byte 32c + l, 64c + 32 + l its
    /// high nibble.
    static func decodeQ4_K(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 144, y = out + b * superBlock
            let d = f16(block), dmin = f16(block + 2), packed = block + 4, qs = block + 16
            for j in 0..<8 {
                let (sc, m) = scaleMinK4(j, packed)
                let dl = d * Float(sc), ml = dmin * Float(m)
                let bytes = qs + 32 * (j >> 1), shift = UInt8(4 * (j & 1))
                for l in 0..<32 { y[32 * j + l] = dl * Float((bytes[l] >> shift) & 0x0F) - ml }
            }
        }
    }

    /// Q5_K (176 bytes): d, dmin, the 12 scale bytes of Q4_K, 32 bytes of fifth bits (element e:
    /// bit e/32 of byte e % 32), 128 bytes of nibbles laid out as Q4_K's.
    static func decodeQ5_K(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 176, y = out + b * superBlock
            let d = f16(block), dmin = f16(block + 2), packed = block + 4, qh = block + 16, qs = block + 48
            for j in 0..<8 {
                let (sc, m) = scaleMinK4(j, packed)
                let dl = d * Float(sc), ml = dmin * Float(m)
                let bytes = qs + 32 * (j >> 1), shift = UInt8(4 * (j & 1)), hshift = UInt8(j)
                for l in 0..<32 {
                    let q = ((bytes[l] >> shift) & 0x0F) | ((qh[l] >> hshift) & 1) << 4
                    y[32 * j + l] = dl * Float(q) - ml
                }
            }
        }
    }

    /// Q6_K (210 bytes): 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 int8 scales
    /// (one per 16 elements), d. Element 128h + 64n + l (l < 64) has its low nibble in nibble n of
    /// byte 64h + l and its high bits in pair (64n + l)/32 of byte 32h + l % 32; x = d·sc · (q − 32).
    static func decodeQ6_K(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 210, y = out + b * superBlock
            let ql = block, qh = block + 128, scales = block + 192
            let d = f16(block + 208)
            for e16 in 0..<16 {
                let dl = d * Float(Int8(bitPattern: scales[e16]))
                for i in 0..<16 {
                    let e = 16 * e16 + i
                    let h = e >> 7, r = e & 127
                    let low = (ql[64 * h + (r & 63)] >> UInt8(4 * (r >> 6))) & 0x0F
                    let high = (qh[32 * h + (r & 31)] >> UInt8(2 * (r >> 5))) & 0x03
                    y[e] = dl * Float(Int(low | high << 4) - 32)
                }
            }
        }
    }
}
