import NanoCheckpoint
import NanoTensor

/// How one quantized Linear weight is stored in a packed checkpoint: its logical shape, scheme and
/// scale format, which fix the name, dtype and shape of each companion tensor. The facts are kept
/// in `__metadata__["nanoforge.quantization"]`, one JSON object per layer (docs/formats.md,
/// "Packed quantized weights").
public struct PackedLayer: Equatable, Sendable {
    /// The layer's name without `.weight` (`encoder.layer.0.attention.self.query`).
    public let name: String
    /// The logical weight shape [out, in].
    public let shape: [Int]
    public let scheme: QuantizationScheme
    public let scaleFormat: ScaleFormat

    public init(name: String, shape: [Int], scheme: QuantizationScheme, scaleFormat: ScaleFormat) {
        self.name = name; self.shape = shape; self.scheme = scheme; self.scaleFormat = scaleFormat
    }

    public init(name: String, _ q: QuantizedTensor) {
        self.init(name: name, shape: q.shape, scheme: q.scheme, scaleFormat: q.scaleFormat)
    }

    // MARK: Companion tensors

    public var qweightName: String { name + ".weight.qweight" }
    public var scalesName: String { name + ".weight.scales" }
    public var zeroPointsName: String { name + ".weight.zero_points" }

    public var rows: Int { shape[0] }
    public var columns: Int { shape[1] }

    /// I8 when each code fills a byte and is signed (symmetric 5…8 bits): numpy then reads the
    /// codes directly. U8 for everything packed several to a byte, and for unsigned codes.
    public var qweightDType: DType {
        scheme.symmetric && QuantizationNumerics.containerBits(scheme.bits) == 8 ? .i8 : .u8
    }

    /// [out, in · container / 8] when a row fills whole bytes (rows never share a byte); else
    /// the flat byte count, rows packed back to back.
    public var qweightShape: [Int] {
        Self.packedShape(rows: rows, perRow: columns, bits: scheme.bits)
    }

    /// [out, in / N] for groups, [out] per channel, [1] per tensor.
    public var scalesShape: [Int] {
        switch scheme.granularity {
        case .tensor: return [1]
        case .channel: return [rows]
        case .group(let size): return [rows, columns / size]
        }
    }

    public var scalesDType: DType { scaleFormat == .float16 ? .f16 : .f32 }

    /// Zero points are unsigned codes of the same bits, packed like the codes (U8), laid out
    /// as the scales are; nil for symmetric schemes.
    public var zeroPointsShape: [Int]? {
        guard !scheme.symmetric else { return nil }
        switch scheme.granularity {
        case .tensor: return [1]
        case .channel: return [QuantizationNumerics.packedByteCount(count: rows, bits: scheme.bits)]
        case .group(let size): return Self.packedShape(rows: rows, perRow: columns / size, bits: scheme.bits)
        }
    }

    static func packedShape(rows: Int, perRow: Int, bits: Int) -> [Int] {
        let rowBits = perRow * QuantizationNumerics.containerBits(bits)
        if rowBits % 8 == 0 { return [rows, rowBits / 8] }
        return [QuantizationNumerics.packedByteCount(count: rows * perRow, bits: bits)]
    }

    /// Stored bits per logical weight: codes, scales and zero points as laid out in the file.
    public var bitsPerWeight: Double {
        let scaleCount = scheme.scaleCount(rows: rows, columns: columns)
        let bytes = qweightShape.elementCount + scaleCount * scaleFormat.byteCount + (zeroPointsShape?.elementCount ?? 0)
        return Double(bytes * 8) / Double(rows * columns)
    }
}
