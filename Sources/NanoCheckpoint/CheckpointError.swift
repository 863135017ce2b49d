/// A problem with a checkpoint file. Every case names the file, and the tensor or field where it
/// applies, with what was expected and what was found. Codable: `HDF5Isolation`'s child process
/// hands its error to the parent as JSON.
public enum CheckpointError: Error, Equatable, Codable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case unknownFormat(file: String, reason: String)
    case truncated(file: String, reason: String)
    case malformedHeader(file: String, reason: String)
    case invalidTensor(file: String, tensor: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case missingTensor(file: String, tensor: String)
    case unexpectedTensor(file: String, tensor: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case invalidConfig(file: String, field: String, reason: String)
    case hdf5(file: String, object: String, reason: String)
    case writeFailed(file: String, reason: String)
    /// A library we hand the file to (libhdf5) crashed or hung on it in `HDF5Isolation`'s child
    /// process; nothing was loaded.
    case libraryFailed(file: String, reason: String)

    public var file: String {
        switch self {
        case .unreadable(let f, _), .unknownFormat(let f, _), .truncated(let f, _), .malformedHeader(let f, _),
             .invalidTensor(let f, _, _), .unsupportedDType(let f, _, _), .missingTensor(let f, _),
             .unexpectedTensor(let f, _), .shapeMismatch(let f, _, _, _), .invalidConfig(let f, _, _),
             .hdf5(let f, _, _), .writeFailed(let f, _), .libraryFailed(let f, _):
            return f
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read: \(r)"
        case .unknownFormat(let f, let r): return "\(f): not a checkpoint nanoforge can read: \(r)"
        case .truncated(let f, let r): return "\(f): file is truncated: \(r)"
        case .malformedHeader(let f, let r): return "\(f): malformed header: \(r)"
        case .invalidTensor(let f, let t, let r): return "\(f): tensor '\(t)': \(r)"
        case .unsupportedDType(let f, let t, let d): return "\(f): tensor '\(t)': unsupported dtype '\(d)'"
        case .missingTensor(let f, let t): return "\(f): missing tensor '\(t)'"
        case .unexpectedTensor(let f, let t): return "\(f): unexpected tensor '\(t)' (not part of the model)"
        case .shapeMismatch(let f, let t, let e, let found): return "\(f): tensor '\(t)': expected shape \(e), found \(found)"
        case .invalidConfig(let f, let field, let r): return "\(f): config field '\(field)': \(r)"
        case .hdf5(let f, let o, let r): return "\(f): HDF5 object '\(o)': \(r)"
        case .writeFailed(let f, let r): return "\(f): cannot write: \(r)"
        case .libraryFailed(let f, let r): return "\(f): \(r)"
        }
    }
}
