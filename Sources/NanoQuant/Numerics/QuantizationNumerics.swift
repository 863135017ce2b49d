import NanoTensor

/// A scale and zero point: `x ≈ (q - zeroPoint) · scale`.
public struct QuantizationParameters: Equatable, Hashable, Sendable {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32 = 0) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }
}

/// The one home of quantization arithmetic: integer grids, scales and zero points, rounding,
/// quantize / dequantize / fake-quantize (and, in `QuantizationNumerics+Packing.swift`, bit
/// packing). PTQ (RTN, GPTQ), activation observers, later QAT, export and the runtime all call
/// these functions and never re-derive the formulas.
///
/// Conventions:
/// - Symmetric grids are *narrow*: q ∈ [-(2^(b-1)-1), 2^(b-1)-1] (int8: ±127, int4: ±7,
///   int2: {-1, 0, 1}), zero point 0, scale = absmax / qmax. Dropping the lone most negative
///   code keeps the grid exactly symmetric, so `-x` quantizes to `-q` and no value clips
///   asymmetrically (the choice of TensorRT, ONNX's symmetric weights and torchao's
///   `MappingType.SYMMETRIC` with a restricted range).
/// - Asymmetric grids are q ∈ [0, 2^b - 1] with an integer zero point in that range; the range
///   is first widened to contain 0, so 0.0 is exactly representable (padding and ReLU zeros).
/// - Rounding is to nearest, ties to even (IEEE default), then clamped to the grid.
public enum QuantizationNumerics {
    // MARK: Grids

    /// The smallest code of a grid.
    @inline(__always)
    public static func qmin(bits: Int, symmetric: Bool) -> Int32 {
        symmetric ? -(Int32(1) << (bits - 1)) + 1 : 0
    }

    /// The largest code of a grid.
    @inline(__always)
    public static func qmax(bits: Int, symmetric: Bool) -> Int32 {
        symmetric ? (Int32(1) << (bits - 1)) - 1 : (Int32(1) << bits) - 1
    }

    // MARK: Parameters

    /// The scale and zero point that map the range [min, max] onto the grid.
    ///
    /// Symmetric: scale = max(|min|, |max|) / qmax. Asymmetric: the range is widened to contain
    /// 0, scale = (max - min) / (qmax - qmin) and zeroPoint = qmin - round(min / scale), clamped
    /// to the grid. A degenerate range (all zeros) gets scale 1. The scale is rounded to
    /// `scaleFormat` (never to 0 or infinity) before the zero point is derived from it.
    public static func parameters(min lo: Float, max hi: Float, bits: Int, symmetric: Bool,
                                  scaleFormat: ScaleFormat = .float32) -> QuantizationParameters {
        let qmin = Self.qmin(bits: bits, symmetric: symmetric), qmax = Self.qmax(bits: bits, symmetric: symmetric)
        if symmetric {
            let absmax = Swift.max(abs(lo), abs(hi))
            let scale = storable(absmax > 0 ? absmax / Float(qmax) : 1, scaleFormat)
            return QuantizationParameters(scale: scale, zeroPoint: 0)
        }
        let low = Swift.min(lo, 0), high = Swift.max(hi, 0)
        let span = high - low
        let scale = storable(span > 0 ? span / Float(qmax - qmin) : 1, scaleFormat)
        let zero = (Float(qmin) - low / scale).rounded(.toNearestOrEven)
        let zeroPoint = Int32(Swift.min(Swift.max(zero, Float(qmin)), Float(qmax)))
        return QuantizationParameters(scale: scale, zeroPoint: zeroPoint)
    }

    /// `scale` as it will be stored: rounded to Float16 when asked, kept positive and finite.
    @inline(__always)
    public static func storable(_ scale: Float, _ format: ScaleFormat) -> Float {
        guard scale.isFinite, scale > 0 else { return scale.isNaN || scale <= 0 ? 1 : Float.greatestFiniteMagnitude }
        switch format {
        case .float32:
            return Swift.max(scale, Float.leastNormalMagnitude)
        case .float16:
            // Largest finite Float16 is 65504; the smallest positive subnormal is 2^-24.
            let clamped = Swift.min(Swift.max(scale, 0x1p-24), 65504)
            return HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(clamped))
        }
    }

    // MARK: Quantize and dequantize

    /// The code of `x`: round(x / scale) + zeroPoint, ties to even, clamped to [qmin, qmax].
    @inline(__always)
    public static func quantize(_ x: Float, _ p: QuantizationParameters, qmin: Int32, qmax: Int32) -> Int32 {
        let q = (x / p.scale).rounded(.toNearestOrEven) + Float(p.zeroPoint)
        // Compare as Float first so that huge or NaN quotients cannot trap in the Int32 conversion.
        if !(q >= Float(qmin)) { return qmin }
        if q > Float(qmax) { return qmax }
        return Int32(q)
    }

    /// The value of a code: (q - zeroPoint) · scale.
    @inline(__always)
    public static func dequantize(_ q: Int32, _ p: QuantizationParameters) -> Float {
        Float(q - p.zeroPoint) * p.scale
    }

    /// Quantize then dequantize: the value `x` takes on the grid. QAT's forward pass uses this
    /// (with a straight-through gradient).
    @inline(__always)
    public static func fakeQuantize(_ x: Float, _ p: QuantizationParameters, qmin: Int32, qmax: Int32) -> Float {
        dequantize(quantize(x, p, qmin: qmin, qmax: qmax), p)
    }

    /// Σ (fakeQuantize(x) - x)² over `values`: the error an observer minimizes.
    public static func squaredError(_ values: UnsafeBufferPointer<Float>, _ p: QuantizationParameters,
                                    qmin: Int32, qmax: Int32) -> Double {
        var total: Float = 0
        for x in values {
            let d = fakeQuantize(x, p, qmin: qmin, qmax: qmax) - x
            total += d * d
        }
        return Double(total)
    }

    /// Fake-quantizes a whole tensor with one set of parameters (per-tensor activations).
    public static func fakeQuantize(_ t: Tensor, _ p: QuantizationParameters, bits: Int, symmetric: Bool) -> Tensor {
        let lo = qmin(bits: bits, symmetric: symmetric), hi = qmax(bits: bits, symmetric: symmetric)
        var out = t
        out.scalars.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = fakeQuantize(buffer[i], p, qmin: lo, qmax: hi) }
        }
        return out
    }
}
