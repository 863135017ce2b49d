/// Why a pruning pass cannot run: each case names the layer or option, what is allowed and what was found.
public enum PruningError: Error, Equatable, CustomStringConvertible {
    /// A pattern string that is neither `unstructured` nor `N:M` with 0 < N < M.
    case invalidPattern(String, reason: String)
    /// An N:M pattern whose group size M does not divide a layer's input width.
    case patternDoesNotDivide(layer: String, inputWidth: Int, m: Int)
    /// A sparsity or ratio outside [0, 1) (or outside what the option allows).
    case valueOutOfRange(option: String, allowed: String, found: Double)
    /// A target sparsity that disagrees with the one an N:M pattern implies.
    case sparsityConflictsWithPattern(sparsity: Double, pattern: String, implied: Double)
    /// Activation-aware scoring (Wanda) asked for a layer without calibration norms.
    case missingActivationNorms(layer: String)
    /// Calibration norms of the wrong length for a layer's input width.
    case activationNormsMismatch(layer: String, expected: Int, found: Int)
    /// Head pruning of a grouped-query attention layer (key/value heads shared by several query heads).
    case groupedQueryAttention(layer: String, heads: Int, kvHeads: Int)
    /// Global scope needs at least one layer.
    case noLayers

    public var description: String {
        switch self {
        case let .invalidPattern(text, reason):
            return "invalid sparsity pattern '\(text)': \(reason) (allowed: \"unstructured\" or \"N:M\" with 0 < N < M, e.g. \"2:4\", \"4:8\")"
        case let .patternDoesNotDivide(layer, width, m):
            return "\(layer): input width \(width) is not a multiple of the pattern's group size \(m); exclude the layer with `ignore` or pick another M"
        case let .valueOutOfRange(option, allowed, found):
            return "\(option): expected \(allowed), found \(found)"
        case let .sparsityConflictsWithPattern(sparsity, pattern, implied):
            return "sparsity \(sparsity) conflicts with pattern \(pattern), which implies sparsity \(implied); drop `sparsity` or set it to \(implied)"
        case let .missingActivationNorms(layer):
            return "\(layer): wanda needs calibration activation norms for this layer; give calibration data or use method magnitude"
        case let .activationNormsMismatch(layer, expected, found):
            return "\(layer): expected \(expected) activation norms (one per input feature), found \(found)"
        case let .groupedQueryAttention(layer, heads, kvHeads):
            return "\(layer): \(heads) query heads share \(kvHeads) key/value heads (grouped-query attention); head pruning supports only layers with one key/value head per query head"
        case .noLayers:
            return "no layers selected to prune; check `targets` and `ignore`"
        }
    }
}
