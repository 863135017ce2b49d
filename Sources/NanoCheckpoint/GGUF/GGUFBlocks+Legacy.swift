/// ggml's 32-element block formats, decoded as `dequantize_row_q8_0` … `dequantize_row_q5_1`
/// and gguf-py's `Q8_0` … `Q5_1.dequantize_blocks` do. Each block starts with an f16 scale d
/// (and, for the `_1` types, an f16 offset m); 4-bit codes sit in 16 bytes, element j in the low
/// nibble of byte j and element j + 16 in its high nibble; the 5-bit types add a little-endian
/// uint32 whose bit j is the fifth bit of element j.
///
/// Float32 operations follow gguf-py's order: `d · q` for the `_0` types, `(d · q) + m` for the
/// `_1` types (the products are exact; only the sum rounds).
extension GGUFBlocks {
    /// Q8_0 (34 bytes): d, then 32 int8 codes; x = q · d.
    static func decodeQ8_0(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 34, y = out + b * 32
            let d = f16(block)
            for j in 0..<32 { y[j] = Float(Int8(bitPattern: block[2 + j])) * d }
        }
    }

    /// Q4_0 (18 bytes): d, 16 bytes of nibbles; x = (q − 8) · d.
    static func decodeQ4_0(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 18, y = out + b * 32
            let d = f16(block)
            for j in 0..<16 {
                let byte = block[2 + j]
                y[j] = d * Float(Int(byte & 0x0F) - 8)
                y[j + 16] = d * Float(Int(byte >> 4) - 8)
            }
        }
    }

    /// Q4_1 (20 bytes): d, m, 16 bytes of nibbles; x = d · q + m.
    static func decodeQ4_1(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 20, y = out + b * 32
            let d = f16(block), m = f16(block + 2)
            for j in 0..<16 {
                let byte = block[4 + j]
                y[j] = d * Float(byte & 0x0F) + m
                y[j + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    /// Q5_0 (22 bytes): d, the uint32 of fifth bits, 16 bytes of nibbles; x = d · (q − 16).
    static func decodeQ5_0(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 22, y = out + b * 32
            let d = f16(block), qh = u32(block + 2)
            for j in 0..<16 {
                let byte = block[6 + j]
                let low = UInt32(byte & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let high = UInt32(byte >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = d * Float(Int(low) - 16)
                y[j + 16] = d * Float(Int(high) - 16)
            }
        }
    }

    /// Q5_1 (24 bytes): d, m, the uint32 of fifth bits, 16 bytes of nibbles; x = d · q + m.
    static func decodeQ5_1(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let block = src + b * 24, y = out + b * 32
            let d = f16(block), m = f16(block + 2), qh = u32(block + 4)
            for j in 0..<16 {
                let byte = block[8 + j]
                let low = UInt32(byte & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let high = UInt32(byte >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = d * Float(low) + m
                y[j + 16] = d * Float(high) + m
            }
        }
    }
}
