import Dispatch
import Foundation
import NanoTensor

/// Float32 rows encoded into ggml's block formats by round-to-nearest, byte for byte as
/// llama.cpp's `ggml_quantize_chunk` without an importance matrix writes them (what
/// `llama-quantize` does for a tensor when no imatrix is given): `quantize_row_*_ref` of
/// ggml-quants.c for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (`GGUFBlockEncoder+Legacy.swift`) and
/// Q2_K … Q6_K (`GGUFBlockEncoder+KQuants.swift`, with the scale searches of
/// `GGUFBlockEncoder+ScaleSearch.swift`), and `quantize_iq4_nl` for IQ4_NL
/// (`GGUFBlockEncoder+IQ4NL.swift`).
///
/// With an importance matrix (llama.cpp's imatrix: one non-negative weight per column, typically
/// the mean of x² of that input feature over calibration tokens) the bytes are those of
/// `ggml_quantize_chunk` given it as quant_weights, i.e. `llama-quantize --imatrix`: the
/// `quantize_row_*_impl` encoders (`GGUFBlockEncoder+LegacyWeighted.swift`,
/// `GGUFBlockEncoder+KQuantsWeighted.swift`, and the `importance:` paths of IQ4_NL and Q6_K),
/// which weight each element by importance · √(σ² + x²) in every scale search. Q8_0 ignores it,
/// as ggml does.
///
/// Each loop is a transcription of the C code with the same Float32 operations in the same order
/// (ggml's portable build has no fused multiply-add in these functions), the same integer
/// conversions (`nearest_int`'s magic-number rounding, C's truncating float → int8 casts) and the
/// same f16 rounding of stored scales, so the bytes equal ggml's; `GGMLEncoderTests` checks that
/// against fixtures written by ggml itself. A block is consecutive values of a row, so the
/// row length must be a whole number of blocks.
public enum GGUFBlockEncoder {
    /// The block types nanoforge encodes (the plain F32 / F16 / BF16 are written by `GGUFWriter`).
    public static let encodable: [GGUFTensorType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_nl,
                                                     .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Whether `encode` accepts `type`.
    public static func canEncode(_ type: GGUFTensorType) -> Bool { encodable.contains(type) }

    /// The blocks of `values`, rows of `rowLength` elements (a tensor's ne[0], its last dimension
    /// in row-major order), as `type`. `importance`, when given, holds `rowLength` finite
    /// non-negative weights, one per column (ggml's quant_weights, llama.cpp's imatrix entry for
    /// the tensor); nil encodes as ggml does without one. Throws `CheckpointError.unsupportedDType`
    /// for a type not in `encodable` and `.invalidTensor` naming `tensor` when a row is not whole
    /// blocks or the importance is not `rowLength` finite non-negative values.
    public static func encode(_ values: UnsafeBufferPointer<Float>, as type: GGUFTensorType, rowLength: Int,
                              importance: [Float]? = nil, tensor: String, file: String) throws -> Data {
        guard canEncode(type) else { throw CheckpointError.unsupportedDType(file: file, tensor: tensor, dtype: type.name) }
        let block = type.blockSize
        guard rowLength > 0, rowLength % block == 0 else {
            throw CheckpointError.invalidTensor(file: file, tensor: tensor, reason:
                "\(type.name) encodes rows of whole \(block)-element blocks; the row length is \(rowLength)")
        }
        guard values.count % rowLength == 0 else {
            throw CheckpointError.invalidTensor(file: file, tensor: tensor, reason:
                "\(values.count) values are not whole rows of \(rowLength)")
        }
        if let importance {
            guard importance.count == rowLength else {
                throw CheckpointError.invalidTensor(file: file, tensor: tensor, reason:
                    "the importance matrix has \(importance.count) values for rows of \(rowLength)")
            }
            if let bad = importance.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
                throw CheckpointError.invalidTensor(file: file, tensor: tensor, reason:
                    "importance[\(bad)] is \(importance[bad]); importance weights must be finite and non-negative")
            }
            // ggml's quantize_q8_0 ignores quant_weights.
            if type != .q8_0 { return encodeWeighted(values, as: type, rowLength: rowLength, importance: importance) }
        }
        let blocks = values.count / block
        var out = Data(count: blocks * type.typeSize)
        guard blocks > 0, let source = values.baseAddress else { return out }
        out.withUnsafeMutableBytes { raw in
            let destination = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            // Blocks are independent: spread whole chunks over the cores (a K-quant search is
            // ~100 flops per element, a model of 10⁸ weights takes seconds on one core).
            let chunk = 256
            let chunks = (blocks + chunk - 1) / chunk
            let work = { (c: Int) in
                let first = c * chunk, count = Swift.min(chunk, blocks - first)
                encode(source + first * block, type: type, blocks: count, into: destination + first * type.typeSize)
            }
            if chunks == 1 { work(0) } else { Parallel.perform(iterations: chunks, work) }
        }
        return out
    }

    /// `encode` of an array.
    public static func encode(_ values: [Float], as type: GGUFTensorType, rowLength: Int,
                              importance: [Float]? = nil, tensor: String, file: String) throws -> Data {
        try values.withUnsafeBufferPointer {
            try encode($0, as: type, rowLength: rowLength, importance: importance, tensor: tensor, file: file)
        }
    }

    /// The importance-weighted encoding of validated rows. A row is the unit of work (the legacy
    /// types' σ² is a whole-row statistic), spread over the cores in runs of rows.
    private static func encodeWeighted(_ values: UnsafeBufferPointer<Float>, as type: GGUFTensorType, rowLength: Int,
                                       importance: [Float]) -> Data {
        let rows = values.count / rowLength, rowBytes = rowLength / type.blockSize * type.typeSize
        var out = Data(count: rows * rowBytes)
        guard rows > 0, let source = values.baseAddress else { return out }
        importance.withUnsafeBufferPointer { weights in
            let qw = weights.baseAddress!
            out.withUnsafeMutableBytes { raw in
                let destination = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let rowsPerChunk = Swift.max(1, 256 * type.blockSize / rowLength)
                let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
                let work = { (c: Int) in
                    for r in (c * rowsPerChunk)..<Swift.min(rows, (c + 1) * rowsPerChunk) {
                        encodeWeightedRow(source + r * rowLength, type: type, rowLength: rowLength, importance: qw,
                                          into: destination + r * rowBytes)
                    }
                }
                if chunks == 1 { work(0) } else { Parallel.perform(iterations: chunks, work) }
            }
        }
        return out
    }

    /// One block of an encodable `type` (its `blockSize` values at `x`, `typeSize` bytes at `out`),
    /// as ggml encodes it inside a row: weighted by `importance` (the block's own `blockSize`
    /// weights) when given, with `rowMeanSquare` (mean x² over the whole row) as the σ² of the
    /// legacy types' weighted search; the K-quants and IQ4_NL take σ² from their own block.
    /// For callers that choose blocks one at a time (GPTQ on the error-compensated row).
    public static func encodeBlock(_ x: UnsafePointer<Float>, as type: GGUFTensorType, importance: UnsafePointer<Float>?,
                                   rowMeanSquare: Float, into out: UnsafeMutablePointer<UInt8>) {
        precondition(canEncode(type), "GGUFBlockEncoder.encodeBlock: \(type) is not encodable")
        guard let importance, type != .q8_0 else { return encode(x, type: type, blocks: 1, into: out) }
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1:
            encodeLegacyWeightedRow(x, type.blockSize, type, importance, out, rowMeanSquare: rowMeanSquare)
        default:
            encodeWeightedRow(x, type: type, rowLength: type.blockSize, importance: importance, into: out)
        }
    }

    /// One row of an encodable `type` other than Q8_0, weighted by the row's `importance`.
    static func encodeWeightedRow(_ x: UnsafePointer<Float>, type: GGUFTensorType, rowLength: Int,
                                  importance qw: UnsafePointer<Float>, into y: UnsafeMutablePointer<UInt8>) {
        let blocks = rowLength / type.blockSize
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1: encodeLegacyWeightedRow(x, rowLength, type, qw, y)
        case .iq4_nl: encodeIQ4_NL(x, blocks, y, importance: qw)
        case .q2_K: encodeQ2_KWeighted(x, blocks, qw, y)
        case .q3_K: encodeQ3_KWeighted(x, blocks, qw, y)
        case .q4_K: encodeQ45_KWeighted(x, blocks, qw, y, bits: 4)
        case .q5_K: encodeQ45_KWeighted(x, blocks, qw, y, bits: 5)
        case .q6_K: encodeQ6_K(x, blocks, y, importance: qw)
        default: preconditionFailure("GGUFBlockEncoder: \(type) has no importance-weighted encoder")
        }
    }

    /// Encodes `blocks` whole blocks of an encodable `type` from `x` into `y`.
    static func encode(_ x: UnsafePointer<Float>, type: GGUFTensorType, blocks: Int, into y: UnsafeMutablePointer<UInt8>) {
        switch type {
        case .q8_0: encodeQ8_0(x, blocks, y)
        case .q4_0: encodeQ4_0(x, blocks, y)
        case .q4_1: encodeQ4_1(x, blocks, y)
        case .q5_0: encodeQ5_0(x, blocks, y)
        case .q5_1: encodeQ5_1(x, blocks, y)
        case .iq4_nl: encodeIQ4_NL(x, blocks, y)
        case .q2_K: encodeQ2_K(x, blocks, y)
        case .q3_K: encodeQ3_K(x, blocks, y)
        case .q4_K: encodeQ4_K(x, blocks, y)
        case .q5_K: encodeQ5_K(x, blocks, y)
        case .q6_K: encodeQ6_K(x, blocks, y)
        default: preconditionFailure("GGUFBlockEncoder: \(type) is not encodable")
        }
    }

    // MARK: C's conversions, reproduced

    /// ggml's `nearest_int`: adding 1.5·2²³ leaves round-half-even(x) in the low mantissa bits.
    /// Exact for |x| ≤ 2²² − 1 (ggml asserts that); beyond, the same wrapped value ggml's release
    /// build computes.
    @inline(__always) static func nearestInt(_ x: Float) -> Int32 {
        let biased = x + 12582912
        return Int32(bitPattern: biased.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    /// A C cast of a float to a 32-bit int as x86-64 computes it (`cvttss2si`): toward zero, and
    /// INT_MIN for NaN or a value out of range (where C leaves the result undefined). Narrower C
    /// casts (`(int8_t)`, `(uint8_t)`) keep the low bits of this.
    @inline(__always) static func cTruncate(_ x: Float) -> Int32 {
        guard x > -2147483904, x < 2147483648 else { return Int32.min }   // NaN fails both
        return Int32(x)
    }

    /// `(int8_t)x` for a float x.
    @inline(__always) static func cInt8(_ x: Float) -> Int8 { Int8(truncatingIfNeeded: cTruncate(x)) }

    /// C's `MAX(a, b)` / `MIN(a, b)` on floats (`a > b ? a : b`): NaN handling differs from Swift's.
    @inline(__always) static func cMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }

    /// Stores `value` rounded to f16 (ggml's `GGML_FP32_TO_FP16`, round to nearest even) at `p`.
    @inline(__always) static func storeF16(_ value: Float, _ p: UnsafeMutablePointer<UInt8>) {
        let bits = HalfPrecision.float16Bits(value)
        p[0] = UInt8(truncatingIfNeeded: bits)
        p[1] = UInt8(truncatingIfNeeded: bits >> 8)
    }

    /// The f16 at `p` as Float32 (`GGML_FP16_TO_FP32`).
    @inline(__always) static func loadF16(_ p: UnsafeMutablePointer<UInt8>) -> Float {
        HalfPrecision.float(fromFloat16: UInt16(p[0]) | UInt16(p[1]) << 8)
    }
}
