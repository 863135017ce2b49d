/// Why a model cannot run on the packed runtime; each names the file and the tensor or field.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    /// The architecture or a layer's layout is one the runtime has no kernel for (the caller may
    /// fall back to the dequantized fp32 path).
    case unsupported(file: String, what: String, reason: String)
    case missingTensor(file: String, tensor: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .unsupported(let file, let what, let reason): return "\(file): \(what): not supported by the packed runtime: \(reason)"
        case .missingTensor(let file, let tensor): return "\(file): missing tensor \(tensor)"
        case .shapeMismatch(let file, let tensor, let expected, let found):
            return "\(file): \(tensor) has shape \(found), expected \(expected)"
        }
    }
}
