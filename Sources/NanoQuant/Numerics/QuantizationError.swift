/// An invalid quantization request: a scheme out of range, or a weight or calibration input that
/// does not fit it. Each case names what was expected and what was found.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    /// `bits` outside 2…8.
    case bitsOutOfRange(found: Int)
    /// A group size that is not positive.
    case nonPositiveGroupSize(found: Int)
    /// A group size that does not divide the number of input columns.
    case groupSizeDoesNotDivideColumns(groupSize: Int, columns: Int)
    /// A weight that is not a matrix [out, in] with both extents positive.
    case notAMatrix(shape: [Int])
    /// A percentile observer outside (0, 100].
    case percentileOutOfRange(found: Double)
    /// Calibration inputs whose last extent is not the layer's input width.
    case calibrationWidthMismatch(expected: Int, found: Int)
    /// A GPTQ call before any calibration rows were accumulated.
    case noCalibrationData
    /// A damping fraction that is negative or not finite.
    case invalidDamping(found: Double)
    /// A block size that is not positive.
    case nonPositiveBlockSize(found: Int)
    /// The damped Hessian could not be factorized even after raising the damping.
    case hessianNotPositiveDefinite(columns: Int)
    /// A weight holding NaN or infinity.
    case nonFiniteWeight
    /// Stored quantized data whose counts do not fit the shape and scheme.
    case storageMismatch(field: String, expected: Int, found: Int)
    /// A ggml type that nanoforge does not quantize to.
    case unsupportedGGMLType(name: String, allowed: [String])
    /// A ggml block type whose blocks do not tile the weight's rows.
    case ggmlRowLength(type: String, blockSize: Int, columns: Int)

    public var description: String {
        switch self {
        case .bitsOutOfRange(let found):
            return "quantization bits must be in 2...8, found \(found)"
        case .nonPositiveGroupSize(let found):
            return "group size must be a positive number of input columns, found \(found)"
        case .groupSizeDoesNotDivideColumns(let groupSize, let columns):
            return "group size \(groupSize) must divide the \(columns) input columns of the weight"
                + " (hint: use a divisor of \(columns), or granularity: channel)"
        case .notAMatrix(let shape):
            return "quantization expects a weight of shape [out, in] with positive extents, found \(shape)"
        case .percentileOutOfRange(let found):
            return "percentile must be in (0, 100], found \(found)"
        case .calibrationWidthMismatch(let expected, let found):
            return "calibration inputs must have \(expected) features in their last axis, found \(found)"
        case .noCalibrationData:
            return "GPTQ needs calibration inputs: the Hessian accumulator has seen no rows"
        case .invalidDamping(let found):
            return "GPTQ damping must be a finite fraction ≥ 0 of the mean Hessian diagonal, found \(found)"
        case .nonPositiveBlockSize(let found):
            return "GPTQ block size must be positive, found \(found)"
        case .hessianNotPositiveDefinite(let columns):
            return "the damped \(columns)×\(columns) Hessian is not positive definite even with raised damping"
                + " (hint: more calibration samples or a larger damping)"
        case .nonFiniteWeight:
            return "the weight holds NaN or infinite values"
        case .storageMismatch(let field, let expected, let found):
            return "quantized tensor field `\(field)` must hold \(expected) entries for its shape and scheme, found \(found)"
        case .unsupportedGGMLType(let name, let allowed):
            return "ggml type \(name) is not one nanoforge quantizes to; allowed: \(allowed.joined(separator: ", "))"
        case .ggmlRowLength(let type, let blockSize, let columns):
            return "\(type) stores rows of whole \(blockSize)-element blocks, but the weight's rows have \(columns) elements"
        }
    }
}
