import NanoQuant

/// A quantized Linear weight [rows = out features, columns = in features] in the layout the
/// runtime's kernels read, built once at load from a `QuantizedTensor` without ever holding the
/// weight as fp32:
/// - `.int8`: one byte per code (5…8-bit schemes, and anything the nibble layout cannot hold),
///   row-major; signed codes are stored as their Int8 bit pattern, unsigned ones as UInt8.
/// - `.int4`: two codes per byte, re-arranged per block of 32 codes so that byte i of a block
///   holds code i in its low nibble and code i + 16 in its high nibble: a 16-byte load then gives
///   codes 0…15 from `b & 0xF` and 16…31 from `b >> 4` with no lane shuffle.
/// Every row is cut into groups of `groupSize` columns (per channel: one group of all columns;
/// per tensor: the same), each with a scale and, for asymmetric schemes, an `offset` = −zero·scale,
/// so that w = q · scale + offset.
public struct PackedWeight: Sendable {
    public enum Storage: Sendable, Equatable { case int8, int4 }
    public static let int4Block = 32

    public let rows: Int
    public let columns: Int
    public let storage: Storage
    /// Codes are sign-extended (symmetric schemes) or zero-extended.
    public let signed: Bool
    public let groupSize: Int
    /// [rows, groupsPerRow].
    public let scales: [Float]
    /// [rows, groupsPerRow], −zeroPoint · scale; nil for symmetric schemes.
    public let offsets: [Float]?
    /// The codes in the layout of `storage`: rows × columns bytes (int8) or rows × columns / 2 (int4).
    public let codes: [UInt8]

    public var groupsPerRow: Int { columns / groupSize }
    public var bytesPerRow: Int { storage == .int8 ? columns : columns / 2 }

    /// The kernel layout of `q`: nibble storage when codes fit in 4 bits and every group is a
    /// whole number of 32-code blocks, else one byte per code.
    public init(_ q: QuantizedTensor) {
        let (rows, columns) = (q.shape[0], q.shape[1])
        let bits = q.scheme.bits
        let groupSize: Int
        switch q.scheme.granularity {
        case .tensor, .channel: groupSize = columns
        case .group(let size): groupSize = size
        }
        let groups = columns / groupSize
        var scales = [Float](repeating: 0, count: rows * groups)
        var offsets: [Float]? = q.zeroPoints == nil ? nil : [Float](repeating: 0, count: rows * groups)
        for r in 0..<rows {
            for g in 0..<groups {
                // Per tensor: one scale for every slot; otherwise slices are laid out [rows, groups].
                let slice = q.scales.count == 1 ? 0 : r * groups + g
                let p = QuantizationParameters(scale: q.scales[slice], zeroPoint: q.zeroPoints?[slice] ?? 0)
                scales[r * groups + g] = p.scale
                // −zero·scale is the dequantized value of code 0 (QuantizationNumerics.dequantize).
                offsets?[r * groups + g] = QuantizationNumerics.dequantize(0, p)
            }
        }
        let container = QuantizationNumerics.containerBits(bits)
        let signed = q.scheme.symmetric
        if container == 8 {
            self.init(rows: rows, columns: columns, storage: .int8, signed: signed, groupSize: groupSize,
                      scales: scales, offsets: offsets, codes: q.packed)
            return
        }
        // Sub-byte codes: one unpack through the shared numerics, then the kernel layout.
        let unpacked = QuantizationNumerics.unpack(q.packed, count: rows * columns, bits: bits, signed: signed)
        if bits <= 4 && groupSize % Self.int4Block == 0 {
            self.init(rows: rows, columns: columns, storage: .int4, signed: signed, groupSize: groupSize,
                      scales: scales, offsets: offsets, codes: Self.nibbleBlocks(unpacked, count: rows * columns))
        } else {
            self.init(rows: rows, columns: columns, storage: .int8, signed: signed, groupSize: groupSize,
                      scales: scales, offsets: offsets, codes: unpacked.map { UInt8(truncatingIfNeeded: $0) })
        }
    }

    public init(rows: Int, columns: Int, storage: Storage, signed: Bool, groupSize: Int,
                scales: [Float], offsets: [Float]?, codes: [UInt8]) {
        precondition(columns % groupSize == 0 && scales.count == rows * (columns / groupSize))
        precondition(codes.count == rows * columns / (storage == .int8 ? 1 : 2))
        self.rows = rows; self.columns = columns; self.storage = storage; self.signed = signed
        self.groupSize = groupSize; self.scales = scales; self.offsets = offsets; self.codes = codes
    }

    /// Codes (one per Int32) → nibble blocks: in each block of 32, byte i = code i | code (i+16) << 4.
    static func nibbleBlocks(_ codes: [Int32], count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count / 2) { out, initialized in
            codes.withUnsafeBufferPointer { codes in
                for block in 0..<(count / int4Block) {
                    let base = block * int4Block
                    for i in 0..<16 {
                        let lo = UInt8(truncatingIfNeeded: codes[base + i]) & 0xF
                        let hi = UInt8(truncatingIfNeeded: codes[base + 16 + i]) & 0xF
                        out[block * 16 + i] = lo | (hi << 4)
                    }
                }
            }
            initialized = count / 2
        }
    }

    /// Bytes held: codes, scales and offsets.
    public var byteCount: Int { codes.count + 4 * scales.count + 4 * (offsets?.count ?? 0) }
}
