import NanoTensor

/// Round-to-nearest weight quantization: each slice (tensor, row or group) gets its scale from
/// the observer, and every weight is rounded to the nearest code independently. The baseline
/// that GPTQ improves on, and the exact answer for int8 per-channel.
public enum RTN {
    /// Quantizes a weight [out, in].
    public static func quantize(_ weight: Tensor, scheme: QuantizationScheme, observer: Observer = .minmax,
                                scaleFormat: ScaleFormat = .float32) throws -> QuantizedTensor {
        try scheme.validate(forWeightShape: weight.shape)
        try observer.validate()
        guard weight.scalars.allSatisfy(\.isFinite) else { throw QuantizationError.nonFiniteWeight }
        let parameters = sliceParameters(weight, scheme: scheme, observer: observer, scaleFormat: scaleFormat)
        let (rows, columns) = (weight.shape[0], weight.shape[1])
        let qmin = QuantizationNumerics.qmin(bits: scheme.bits, symmetric: scheme.symmetric)
        let qmax = QuantizationNumerics.qmax(bits: scheme.bits, symmetric: scheme.symmetric)
        let width = scheme.groupWidth(columns: columns)
        var codes = [Int32](repeating: 0, count: rows * columns)
        weight.scalars.withUnsafeBufferPointer { w in
            codes.withUnsafeMutableBufferPointer { q in
                for r in 0..<rows {
                    for start in stride(from: 0, to: columns, by: width) {
                        let p = parameters[scheme.scaleIndex(row: r, column: start, columns: columns)]
                        for c in (r * columns + start)..<(r * columns + start + width) {
                            q[c] = QuantizationNumerics.quantize(w[c], p, qmin: qmin, qmax: qmax)
                        }
                    }
                }
            }
        }
        return try QuantizedTensor(shape: weight.shape, scheme: scheme, codes: codes,
                                   parameters: parameters, scaleFormat: scaleFormat)
    }

    /// The observer's parameters for every slice of a weight [out, in], in scale order
    /// (1, out, or [out, in / N]). Shared with GPTQ, which computes per-channel and per-tensor
    /// parameters up front.
    public static func sliceParameters(_ weight: Tensor, scheme: QuantizationScheme, observer: Observer,
                                scaleFormat: ScaleFormat) -> [QuantizationParameters] {
        let (rows, columns) = (weight.shape[0], weight.shape[1])
        return weight.scalars.withUnsafeBufferPointer { w in
            func params(_ range: Range<Int>) -> QuantizationParameters {
                observer.parameters(for: UnsafeBufferPointer(rebasing: w[range]), bits: scheme.bits,
                                    symmetric: scheme.symmetric, scaleFormat: scaleFormat)
            }
            switch scheme.granularity {
            case .tensor:
                return [params(0..<(rows * columns))]
            case .channel:
                return (0..<rows).map { r in params((r * columns)..<((r + 1) * columns)) }
            case .group(let size):
                let groups = columns / size
                return (0..<(rows * groups)).map { s in
                    let start = (s / groups) * columns + (s % groups) * size
                    return params(start..<(start + size))
                }
            }
        }
    }
}
