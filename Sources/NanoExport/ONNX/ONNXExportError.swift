/// Why an ONNX export failed.
public enum ONNXExportError: Error, Equatable, CustomStringConvertible {
    /// The model uses a feature the ONNX graph builders do not translate.
    case unsupportedModel(family: String, reason: String)
    /// A packed quantized layer does not match the model's layer of that name.
    case quantizedLayerMismatch(layer: String, expected: [Int], found: [Int])
    /// The serialized model would pass protobuf's 2 GB message limit.
    case modelTooLarge(bytes: Int)
    /// Bytes that are not a well-formed protobuf message (decoding only).
    case malformedProtobuf(offset: Int, reason: String)

    public var description: String {
        switch self {
        case .unsupportedModel(let family, let reason):
            return "ONNX export of the \(family) model is not supported: \(reason)"
        case .quantizedLayerMismatch(let layer, let expected, let found):
            return "ONNX export: quantized layer \(layer) has shape \(found), but the model's weight is \(expected)"
        case .modelTooLarge(let bytes):
            return "ONNX export: the model needs \(bytes) bytes, past protobuf's 2 GB limit for one file; external data is not supported"
        case .malformedProtobuf(let offset, let reason):
            return "malformed ONNX protobuf at byte \(offset): \(reason)"
        }
    }
}
