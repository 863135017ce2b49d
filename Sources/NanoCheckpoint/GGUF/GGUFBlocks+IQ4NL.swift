/// IQ4_NL (18 bytes per 32 elements), decoded as `dequantize_row_iq4_nl` (ggml-quants.c) and
/// gguf-py's `IQ4_NL.dequantize_blocks` do: an f16 scale d, then 16 bytes of 4-bit indices into
/// 16 fixed non-linear levels (element j in the low nibble of byte j, element j + 16 in the high
/// nibble); x = d · level. The product is exact in Float32 (11 × 8 significant bits).
extension GGUFBlocks {
    /// ggml's `kvalues_iq4nl`: the 16 levels, ascending, denser near zero (where weights are).
    public static let iq4nlLevels: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    static func decodeIQ4_NL(_ src: UnsafePointer<UInt8>, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        iq4nlLevels.withUnsafeBufferPointer { levels in
            for b in 0..<blocks {
                let block = src + b * 18, y = out + b * 32
                let d = f16(block)
                for j in 0..<16 {
                    let byte = block[2 + j]
                    y[j] = d * Float(levels[Int(byte & 0x0F)])
                    y[j + 16] = d * Float(levels[Int(byte >> 4)])
                }
            }
        }
    }
}
