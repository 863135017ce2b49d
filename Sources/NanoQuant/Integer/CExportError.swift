import NanoModels

/// Why a C export (or the integer model it is built from) failed.
public enum CExportError: Error, Equatable, CustomStringConvertible {
    /// The model is not an MLP classifier, or uses a feature the integer kernels do not have.
    case unsupportedModel(family: String, reason: String)
    /// Only ReLU (fused as a clamp at the output zero point) has an integer form.
    case unsupportedActivation(Activation)
    /// Calibration rows are missing, of the wrong width, or not finite.
    case invalidCalibration(reason: String)
    /// A packed quantized layer does not match the model's layer of that name.
    case quantizedLayerMismatch(layer: String, expected: [Int], found: [Int])
    /// A channel's effective scale has no Q31 multiplier with a shift in [−30, 31].
    case multiplierOutOfRange(layer: String, channel: Int, value: Double)
    /// The int32 accumulator of a channel could overflow for some int8 input.
    case accumulatorOverflow(layer: String, channel: Int, bound: Int64)
    /// The prefix is not a C identifier.
    case invalidPrefix(String)
    /// A layer of a Keras graph that the integer kernels do not run (`file`: the model's file or name).
    case unsupportedLayer(layer: String, kind: String, file: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedModel(let family, let reason):
            return "C export of the \(family) model is not supported: \(reason)"
        case .unsupportedActivation(let activation):
            return "C export supports ReLU MLP classifiers only, not activation '\(activation.rawValue)': "
                + "the integer kernels have no \(activation.rawValue) (retrain or fine-tune with relu)"
        case .invalidCalibration(let reason):
            return "C export: invalid calibration data: \(reason)"
        case .quantizedLayerMismatch(let layer, let expected, let found):
            return "C export: quantized layer \(layer) has shape \(found), but the model's weight is \(expected)"
        case .multiplierOutOfRange(let layer, let channel, let value):
            return "C export: \(layer) channel \(channel) needs an output multiplier of \(value), outside what a Q31 multiplier with a shift in [-30, 31] holds"
        case .accumulatorOverflow(let layer, let channel, let bound):
            return "C export: \(layer) channel \(channel) can accumulate up to \(bound), past the int32 range (bias too large for its scale)"
        case let .unsupportedLayer(layer, kind, file, reason):
            return "C export of \(file): layer '\(layer)' (\(kind)) has no integer form: \(reason)"
        case .invalidPrefix(let prefix):
            return "C export: prefix '\(prefix)' is not a C identifier (letters, digits and '_', not starting with a digit)"
        }
    }
}
