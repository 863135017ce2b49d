import NanoModels
import NanoTensor

/// Quantization of one Linear layer's input, applied as fake quantization (quantize, then
/// dequantize) in evaluation, so the metrics show what an integer kernel computes:
/// - static: a per-tensor scale and zero point fixed from calibration (`parameters`);
/// - dynamic (`perToken`): each token's features on their own symmetric grid, scale = absmax /
///   qmax computed at run time (`QuantizationNumerics.fakeQuantizePerRow`), exactly what the
///   runtime's int8 × int8 kernel (`Int8GEMM`) does with them; `parameters` is unused.
public struct ActivationQuantization: Equatable, Sendable {
    public var parameters: QuantizationParameters
    public var bits: Int
    public var symmetric: Bool
    /// Dynamic per-token quantization (always symmetric); false for static per-tensor parameters.
    public var perToken: Bool

    public init(parameters: QuantizationParameters, bits: Int = 8, symmetric: Bool) {
        self.parameters = parameters
        self.bits = bits
        self.symmetric = symmetric
        self.perToken = false
    }

    /// Dynamic per-token symmetric quantization to `bits` (8: the int8 kernel's grid, ±127).
    public static func dynamicPerToken(bits: Int = 8) -> ActivationQuantization {
        var a = ActivationQuantization(parameters: QuantizationParameters(scale: 1), bits: bits, symmetric: true)
        a.perToken = true
        return a
    }

    /// The input as the quantized kernel sees it.
    public func apply(_ x: Tensor) -> Tensor {
        perToken ? QuantizationNumerics.fakeQuantizePerRow(x, bits: bits)
                 : QuantizationNumerics.fakeQuantize(x, parameters, bits: bits, symmetric: symmetric)
    }

    /// Installs the fake quantization on `layer`'s input.
    public func install(on layer: Linear) {
        let copy = self
        layer.inputTransform = { copy.apply($0) }
    }

    /// "int8 per token" or "int8 static".
    public var summary: String { "int\(bits) \(perToken ? "dynamic per token" : "static")" }
}
