/// Bit packing of integer codes: part of the numerics file set, shared by quantizers, export and
/// the runtime.
///
/// Layout:
/// - Each code is stored as its low `b` bits of two's complement: symmetric (signed) codes are
///   sign-extended on unpacking, asymmetric (unsigned) codes zero-extended. So int8 is one signed
///   byte per code (asymmetric int8 one unsigned byte).
/// - Codes sit in containers of `containerBits(bits)`: 8 bits for 5…8-bit codes, a 4-bit nibble
///   for 3- and 4-bit codes (3-bit is stored as nibbles: simple and byte-aligned, at the price of
///   one bit in four), and 2 bits for 2-bit codes.
/// - Containers fill each byte from the least significant bit: for nibbles the first code is the
///   low nibble, the second the high nibble (as GGML and AutoGPTQ's int32 words, by byte).
/// - Codes are packed flat in row-major order; the last byte is zero-padded.
extension QuantizationNumerics {
    /// The bits one stored code occupies: 2, 4 or 8.
    @inline(__always)
    public static func containerBits(_ bits: Int) -> Int {
        bits <= 2 ? 2 : (bits <= 4 ? 4 : 8)
    }

    /// The bytes `count` packed codes of `bits` bits occupy.
    public static func packedByteCount(count: Int, bits: Int) -> Int {
        (count * containerBits(bits) + 7) / 8
    }

    /// Packs codes (each within the grid of `bits`) into bytes.
    public static func pack(_ codes: [Int32], bits: Int) -> [UInt8] {
        let width = containerBits(bits)
        if width == 8 { return codes.map { UInt8(truncatingIfNeeded: $0) } }
        let perByte = 8 / width
        let mask = UInt8((1 << bits) - 1)
        var out = [UInt8](repeating: 0, count: packedByteCount(count: codes.count, bits: bits))
        for (i, code) in codes.enumerated() {
            out[i / perByte] |= (UInt8(truncatingIfNeeded: code) & mask) << UInt8((i % perByte) * width)
        }
        return out
    }

    /// Unpacks `count` codes of `bits` bits; `signed` (symmetric grids) sign-extends them.
    public static func unpack(_ bytes: [UInt8], count: Int, bits: Int, signed: Bool) -> [Int32] {
        precondition(bytes.count >= packedByteCount(count: count, bits: bits),
                     "unpack: \(bytes.count) bytes cannot hold \(count) codes of \(bits) bits")
        let width = containerBits(bits)
        let perByte = 8 / width
        let mask = UInt32((1 << bits) - 1)
        let signBit = UInt32(1) << (bits - 1)
        if width == 8 || width == 4 {
            // Whole bytes and nibbles, the common cases (int8, int4): one pass without per-code
            // division, sign-extended by shifting the code's top bit into bit 31 and back.
            let shift = UInt32(32 - bits)
            return [Int32](unsafeUninitializedCapacity: count) { out, initialized in
                bytes.withUnsafeBufferPointer { b in
                    for i in 0..<count {
                        let raw = (UInt32(b[width == 8 ? i : i >> 1]) >> UInt32(width == 8 ? 0 : (i & 1) * 4)) & mask
                        out[i] = signed ? Int32(bitPattern: raw << shift) >> Int32(shift) : Int32(bitPattern: raw)
                    }
                }
                initialized = count
            }
        }
        return (0..<count).map { i in
            let raw = (UInt32(bytes[i / perByte]) >> UInt32((i % perByte) * width)) & mask
            if signed && raw & signBit != 0 { return Int32(bitPattern: raw | ~mask) }
            return Int32(bitPattern: raw)
        }
    }

    /// Packs 4-bit codes two per byte, the first in the low nibble.
    public static func packInt4(_ codes: [Int32]) -> [UInt8] { pack(codes, bits: 4) }

    /// Unpacks 4-bit codes stored two per byte, low nibble first.
    public static func unpackInt4(_ bytes: [UInt8], count: Int, signed: Bool) -> [Int32] {
        unpack(bytes, count: count, bits: 4, signed: signed)
    }
}
