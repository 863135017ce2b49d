import Foundation
import NanoTensor

/// ggml's tensor encodings, decoded exactly as ggml's reference code (`dequantize_row_*`) and
/// gguf-py's `gguf.quants` compute them, bit for bit: F32, F16, BF16, the 32-element blocks Q8_0,
/// Q4_0, Q4_1, Q5_0, Q5_1 (`GGUFBlocks+Legacy.swift`) and the 256-element K-quant super-blocks
/// Q2_K … Q6_K (`GGUFBlocks+KQuants.swift`) and IQ4_NL (`GGUFBlocks+IQ4NL.swift`). Encoding is
/// `GGUFBlockEncoder`'s. A block is consecutive values of a row.
///
/// - Q8_0 (34 bytes): f16 scale d = amax / 127, then 32 int8 codes round(x / d) (half away from 0).
/// - Q4_0 (18 bytes): f16 scale d = m / −8, where m is the signed value of largest magnitude
///   (the first one on ties), then 16 bytes of nibbles min(15, trunc(x / d + 8.5)): byte j holds
///   element j in its low nibble and element j + 16 in its high nibble; x = (code − 8) · d.
///
/// ggml's encoders (and `GGUFBlockEncoder`) divide by the unrounded Float32 scale and store it
/// rounded to f16 afterwards.
public enum GGUFBlocks {
    public static let blockSize = 32
    public static let q8_0BlockBytes = 34
    public static let q4_0BlockBytes = 18

    // MARK: Decoding

    /// Float32 values of `count` elements stored as `type`; nil for a type nanoforge cannot
    /// dequantize (`isReadable` is false), for a count that is not whole blocks, or for too few bytes.
    /// Each type has one plain scalar loop, transcribed from ggml-quants.c's `dequantize_row_*`
    /// with gguf-py's order of Float32 operations, so the values equal `gguf.quants.dequantize`
    /// bit for bit. Why the order cannot change a bit: an f16 scale has 11 significant bits and
    /// every factor it meets is a small integer (sub-block scale ≤ 7, code ≤ 5 significant bits), so all
    /// products are exact in Float32 (≤ 23 of 24 bits); only the final `+ m` / `− dmin·m` rounds, once.
    public static func decode(_ bytes: UnsafeRawBufferPointer, type: GGUFTensorType, count: Int) -> [Float]? {
        guard type.isReadable, type.blockSize > 0, count % type.blockSize == 0,
              bytes.count >= count / type.blockSize * type.typeSize else { return nil }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if count > 0, let source = bytes.baseAddress {
                decode(source.assumingMemoryBound(to: UInt8.self), type: type, count: count, into: out.baseAddress!)
            }
            initialized = count
        }
    }

    /// Decodes `count` elements (whole blocks) of a readable `type` from `src` into `out`.
    static func decode(_ src: UnsafePointer<UInt8>, type: GGUFTensorType, count: Int, into out: UnsafeMutablePointer<Float>) {
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: u32(src + 4 * i)) }
        case .f16:
            for i in 0..<count { out[i] = HalfPrecision.float(fromFloat16: u16(src + 2 * i)) }
        case .bf16:
            for i in 0..<count { out[i] = HalfPrecision.float(fromBFloat16: u16(src + 2 * i)) }
        case .q8_0: decodeQ8_0(src, blocks, out)
        case .q4_0: decodeQ4_0(src, blocks, out)
        case .q4_1: decodeQ4_1(src, blocks, out)
        case .q5_0: decodeQ5_0(src, blocks, out)
        case .q5_1: decodeQ5_1(src, blocks, out)
        case .iq4_nl: decodeIQ4_NL(src, blocks, out)
        case .q2_K: decodeQ2_K(src, blocks, out)
        case .q3_K: decodeQ3_K(src, blocks, out)
        case .q4_K: decodeQ4_K(src, blocks, out)
        case .q5_K: decodeQ5_K(src, blocks, out)
        case .q6_K: decodeQ6_K(src, blocks, out)
        default: preconditionFailure("GGUFBlocks.decode: \(type) is not readable")
        }
    }

    /// A little-endian UInt16 at `p` (any alignment).
    @inline(__always) static func u16(_ p: UnsafePointer<UInt8>) -> UInt16 {
        UInt16(p[0]) | UInt16(p[1]) << 8
    }

    /// A little-endian UInt32 at `p` (any alignment).
    @inline(__always) static func u32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
    }

    /// The f16 at `p` as Float32 (exact).
    @inline(__always) static func f16(_ p: UnsafePointer<UInt8>) -> Float {
        HalfPrecision.float(fromFloat16: u16(p))
    }

    // MARK: Encoding

    /// Q8_0 blocks of `values` (count a multiple of 32), as `GGUFBlockEncoder` encodes them.
    public static func encodeQ8_0(_ values: [Float]) -> Data { encodeWholeBlocks(values, as: .q8_0) }

    /// Q4_0 blocks of `values` (count a multiple of 32), as `GGUFBlockEncoder` encodes them.
    public static func encodeQ4_0(_ values: [Float]) -> Data { encodeWholeBlocks(values, as: .q4_0) }

    private static func encodeWholeBlocks(_ values: [Float], as type: GGUFTensorType) -> Data {
        precondition(values.count % blockSize == 0, "\(type): \(values.count) values are not whole blocks of 32")
        var out = Data(count: values.count / blockSize * type.typeSize)
        guard !values.isEmpty else { return out }
        values.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes { y in
                GGUFBlockEncoder.encode(x.baseAddress!, type: type, blocks: values.count / blockSize,
                                        into: y.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return out
    }
}
