import NanoTensor

/// A quantized weight [out, in]: packed integer codes with their scales and zero points.
///
/// The value of element (r, c) is `(code - zeroPoint[s]) · scales[s]` with
/// `s = scheme.scaleIndex(row: r, column: c, columns: in)`. Codes are packed as described in
/// `QuantizationNumerics+Packing.swift`; scales hold the values of `scaleFormat` (already rounded
/// to Float16 when that is the format), so dequantizing here matches the exported file exactly.
public struct QuantizedTensor: Equatable, Sendable {
    /// [out, in].
    public let shape: [Int]
    public let scheme: QuantizationScheme
    /// Packed codes, row-major.
    public let packed: [UInt8]
    /// One per scale slice: 1 (tensor), out (channel) or out · in / N (group, laid out [out, in / N]).
    public let scales: [Float]
    /// As many as `scales` for asymmetric schemes, nil for symmetric ones.
    public let zeroPoints: [Int32]?
    public let scaleFormat: ScaleFormat

    /// A quantized tensor from packed bytes; the counts must agree with the shape and scheme.
    public init(shape: [Int], scheme: QuantizationScheme, packed: [UInt8], scales: [Float],
                zeroPoints: [Int32]?, scaleFormat: ScaleFormat) throws {
        try scheme.validate(forWeightShape: shape)
        let (rows, columns) = (shape[0], shape[1])
        let expectedBytes = QuantizationNumerics.packedByteCount(count: rows * columns, bits: scheme.bits)
        guard packed.count == expectedBytes else {
            throw QuantizationError.storageMismatch(field: "packed", expected: expectedBytes, found: packed.count)
        }
        let expectedScales = scheme.scaleCount(rows: rows, columns: columns)
        guard scales.count == expectedScales else {
            throw QuantizationError.storageMismatch(field: "scales", expected: expectedScales, found: scales.count)
        }
        let expectedZeros = scheme.symmetric ? 0 : expectedScales
        guard (zeroPoints?.count ?? 0) == expectedZeros, (zeroPoints == nil) == scheme.symmetric else {
            throw QuantizationError.storageMismatch(field: "zero_points", expected: expectedZeros, found: zeroPoints?.count ?? 0)
        }
        self.shape = shape
        self.scheme = scheme
        self.packed = packed
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.scaleFormat = scaleFormat
    }

    /// A quantized tensor from unpacked codes [out · in] (row-major) and per-slice parameters.
    public init(shape: [Int], scheme: QuantizationScheme, codes: [Int32],
                parameters: [QuantizationParameters], scaleFormat: ScaleFormat) throws {
        try self.init(shape: shape, scheme: scheme,
                      packed: QuantizationNumerics.pack(codes, bits: scheme.bits),
                      scales: parameters.map(\.scale),
                      zeroPoints: scheme.symmetric ? nil : parameters.map(\.zeroPoint),
                      scaleFormat: scaleFormat)
    }

    public var rows: Int { shape[0] }
    public var columns: Int { shape[1] }

    /// The integer codes, row-major [out · in].
    public func codes() -> [Int32] {
        QuantizationNumerics.unpack(packed, count: rows * columns, bits: scheme.bits, signed: scheme.symmetric)
    }

    /// The scale and zero point of slice `index`.
    @inline(__always)
    public func parameters(at index: Int) -> QuantizationParameters {
        QuantizationParameters(scale: scales[index], zeroPoint: zeroPoints?[index] ?? 0)
    }

    /// The weight these codes stand for, [out, in].
    public func dequantized() -> Tensor {
        let codes = codes()
        let columns = self.columns
        let width = scheme.groupWidth(columns: columns)
        var out = [Float](repeating: 0, count: codes.count)
        for r in 0..<rows {
            for start in stride(from: 0, to: columns, by: width) {
                let p = parameters(at: scheme.scaleIndex(row: r, column: start, columns: columns))
                for c in start..<(start + width) {
                    out[r * columns + c] = QuantizationNumerics.dequantize(codes[r * columns + c], p)
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Bytes as stored: packed codes, scales in `scaleFormat`, and zero points packed like codes.
    public var packedByteCount: Int {
        let zeroBytes = zeroPoints.map { QuantizationNumerics.packedByteCount(count: $0.count, bits: scheme.bits) } ?? 0
        return packed.count + scales.count * scaleFormat.byteCount + zeroBytes
    }

    /// Stored bits per weight, overheads included (int4 g128 with F16 scales: 4.125).
    public var bitsPerWeight: Double {
        Double(packedByteCount * 8) / Double(rows * columns)
    }
}
