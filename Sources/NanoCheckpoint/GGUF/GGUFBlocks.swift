import Foundation
import NanoTensor

/// ggml's block formats Q8_0 and Q4_0, encode and decode, exactly as ggml's reference code
/// (`quantize_row_q8_0_ref`, `quantize_row_q4_0_ref`, `dequantize_row_q*_0`) and gguf-py's
/// `gguf.quants` compute them, bit for bit. A block is 32 consecutive values of a row.
///
/// - Q8_0 (34 bytes): f16 scale d = amax / 127, then 32 int8 codes round(x / d) (half away from 0).
/// - Q4_0 (18 bytes): f16 scale d = m / −8, where m is the signed value of largest magnitude
///   (the first one on ties), then 16 bytes of nibbles min(15, trunc(x / d + 8.5)): byte j holds
///   element j in its low nibble and element j + 16 in its high nibble; x = (code − 8) · d.
///
/// Both encoders divide by the unrounded Float32 scale and store it rounded to f16 afterwards,
/// as ggml does.
public enum GGUFBlocks {
    public static let blockSize = 32
    public static let q8_0BlockBytes = 34
    public static let q4_0BlockBytes = 18

    // MARK: Decoding

    /// Float32 values of `count` elements stored as `type` (F32, F16, BF16, Q8_0 or Q4_0);
    /// nil for other types. `bytes` must hold exactly `type.byteCount` of them.
    public static func decode(_ bytes: UnsafeRawBufferPointer, type: GGUFTensorType, count: Int) -> [Float]? {
        guard type.isReadable else { return nil }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch type {
            case .f32:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .f16:
                for i in 0..<count { out[i] = HalfPrecision.float(fromFloat16: half(bytes, 2 * i)) }
            case .bf16:
                for i in 0..<count { out[i] = HalfPrecision.float(fromBFloat16: half(bytes, 2 * i)) }
            case .q8_0:
                for b in 0..<(count / blockSize) {
                    let base = b * q8_0BlockBytes
                    let d = HalfPrecision.float(fromFloat16: half(bytes, base))
                    for j in 0..<blockSize { out[b * blockSize + j] = Float(Int8(bitPattern: bytes[base + 2 + j])) * d }
                }
            default: // .q4_0
                for b in 0..<(count / blockSize) {
                    let base = b * q4_0BlockBytes
                    let d = HalfPrecision.float(fromFloat16: half(bytes, base))
                    for j in 0..<(blockSize / 2) {
                        let byte = bytes[base + 2 + j]
                        out[b * blockSize + j] = Float(Int(byte & 0x0F) - 8) * d
                        out[b * blockSize + j + 16] = Float(Int(byte >> 4) - 8) * d
                    }
                }
            }
            initialized = count
        }
    }

    private static func half(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    // MARK: Encoding

    /// Q8_0 blocks of `values` (count a multiple of 32).
    public static func encodeQ8_0(_ values: [Float]) -> Data {
        precondition(values.count % blockSize == 0, "Q8_0: \(values.count) values are not whole blocks of 32")
        var out = Data(count: values.count / blockSize * q8_0BlockBytes)
        out.withUnsafeMutableBytes { raw in
            for b in 0..<(values.count / blockSize) {
                let block = values[(b * blockSize)..<((b + 1) * blockSize)]
                let amax = block.reduce(Float(0)) { Swift.max($0, abs($1)) }
                let d = amax / 127
                let id: Float = d != 0 ? 1 / d : 0
                let base = b * q8_0BlockBytes
                raw.storeBytes(of: HalfPrecision.float16Bits(d).littleEndian, toByteOffset: base, as: UInt16.self)
                for (j, x) in block.enumerated() {
                    let r = (x * id).rounded()   // half away from zero, like C's roundf
                    raw[base + 2 + j] = UInt8(bitPattern: r.isFinite ? Int8(Swift.max(-128, Swift.min(127, r))) : 0)
                }
            }
        }
        return out
    }

    /// Q4_0 blocks of `values` (count a multiple of 32).
    public static func encodeQ4_0(_ values: [Float]) -> Data {
        precondition(values.count % blockSize == 0, "Q4_0: \(values.count) values are not whole blocks of 32")
        var out = Data(count: values.count / blockSize * q4_0BlockBytes)
        out.withUnsafeMutableBytes { raw in
            for b in 0..<(values.count / blockSize) {
                let first = b * blockSize
                var amax: Float = 0, signedMax: Float = 0
                for x in values[first..<(first + blockSize)] where amax < abs(x) { amax = abs(x); signedMax = x }
                let d = signedMax / -8
                let id: Float = d != 0 ? 1 / d : 0
                let base = b * q4_0BlockBytes
                raw.storeBytes(of: HalfPrecision.float16Bits(d).littleEndian, toByteOffset: base, as: UInt16.self)
                for j in 0..<(blockSize / 2) {
                    let low = code4(values[first + j] * id), high = code4(values[first + j + 16] * id)
                    raw[base + 2 + j] = low | (high << 4)
                }
            }
        }
        return out
    }

    /// min(15, (int8_t)(x + 8.5)): x·id lies in [−8, 8] up to rounding, so the sum is in (0, 17).
    private static func code4(_ scaled: Float) -> UInt8 {
        let t = (scaled + 8.5).rounded(.towardZero)
        guard t.isFinite else { return 0 }   // NaN input: ggml's cast is undefined; pick 0
        return UInt8(Swift.min(15, Swift.max(0, Int(t))))
    }
}
