import NanoQuant
import NanoTensor

/// The learned scales of one weight [out, in] in LSQ quantization-aware training: a trainable
/// variable of one scale per slice of `scheme` (initialised to round-to-nearest's min-max scales,
/// so training starts where plain QAT does), the differentiable fake quantization that uses them
/// (`QuantizationNumerics.lsqFakeQuantize` / `lsqGradients`), and the packed weight at the end.
/// Asymmetric schemes keep the zero points of the initial scales; only the scales learn.
public final class LearnedStepSize {
    public let scheme: QuantizationScheme
    /// [scaleCount]: 1, out, or out · in / N laid out [out, in / N], as `QuantizedTensor.scales`.
    public let scales: Variable
    public let zeroPoints: [Int32]?

    public init(initialWeight weight: Tensor, scheme: QuantizationScheme) throws {
        try scheme.validate(forWeightShape: weight.shape)
        guard weight.scalars.allSatisfy(\.isFinite) else { throw QuantizationError.nonFiniteWeight }
        let parameters = RTN.sliceParameters(weight, scheme: scheme, observer: .minmax, scaleFormat: .float32)
        self.scheme = scheme
        self.scales = Variable(Tensor(shape: [parameters.count], scalars: parameters.map(\.scale)), requiresGrad: true)
        self.zeroPoints = scheme.symmetric ? nil : parameters.map(\.zeroPoint)
    }

    /// The fake-quantized weight on `tape`: gradients reach `weight` (straight through inside
    /// the grid) and `scales` (LSQ).
    public func callAsFunction(_ weight: Variable, tape: Tape) -> Variable {
        let (scheme, zeroPoints, scales) = (self.scheme, self.zeroPoints, self.scales)
        let value = QuantizationNumerics.lsqFakeQuantize(weight.value, scales: scales.value, zeroPoints: zeroPoints, scheme: scheme)
        return tape.record(value, inputs: [weight, scales]) { g, _ in
            let grads = QuantizationNumerics.lsqGradients(weight.value, scales: scales.value, zeroPoints: zeroPoints,
                                                          scheme: scheme, outputGrad: g)
            return [grads.weight, grads.scales]
        }
    }

    /// `weight` quantized with the learned scales, as `quantize` stores it (F32 scales).
    public func quantized(_ weight: Tensor) throws -> QuantizedTensor {
        try scheme.validate(forWeightShape: weight.shape)
        let parameters = scales.value.scalars.enumerated().map { i, s in
            QuantizationParameters(scale: QuantizationNumerics.lsqScale(s), zeroPoint: zeroPoints?[i] ?? 0)
        }
        let lo = QuantizationNumerics.qmin(bits: scheme.bits, symmetric: scheme.symmetric)
        let hi = QuantizationNumerics.qmax(bits: scheme.bits, symmetric: scheme.symmetric)
        let columns = weight.shape[1]
        let codes = weight.scalars.indices.map { i in
            QuantizationNumerics.quantize(weight.scalars[i], parameters[scheme.scaleIndex(row: i / columns, column: i % columns, columns: columns)],
                                          qmin: lo, qmax: hi)
        }
        return try QuantizedTensor(shape: weight.shape, scheme: scheme, codes: codes, parameters: parameters, scaleFormat: .float32)
    }
}
