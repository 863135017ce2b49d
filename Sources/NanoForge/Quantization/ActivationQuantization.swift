import NanoModels
import NanoTensor

/// Static quantization of one Linear layer's input: a per-tensor scale and zero point fixed from
/// calibration, applied as fake quantization (quantize, then dequantize) in evaluation, so the
/// metrics show what an int8×int8 kernel with these parameters would compute.
public struct ActivationQuantization: Equatable, Sendable {
    public var parameters: QuantizationParameters
    public var bits: Int
    public var symmetric: Bool

    public init(parameters: QuantizationParameters, bits: Int = 8, symmetric: Bool) {
        self.parameters = parameters
        self.bits = bits
        self.symmetric = symmetric
    }

    /// The input as the quantized kernel sees it.
    public func apply(_ x: Tensor) -> Tensor {
        QuantizationNumerics.fakeQuantize(x, parameters, bits: bits, symmetric: symmetric)
    }

    /// Installs the fake quantization on `layer`'s input.
    public func install(on layer: Linear) {
        let copy = self
        layer.inputTransform = { copy.apply($0) }
    }
}
