import Foundation

/// Where zeros may fall in a pruned weight matrix W [out, in].
///
/// `nOfM(n, m)` is semi-structured sparsity: in every group of `m` consecutive input weights of a
/// row, exactly `n` are kept. 2:4 is the pattern NVIDIA's sparse tensor cores accelerate
/// (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks"); 4:8 is its looser sibling.
public enum SparsityPattern: Equatable, Hashable, Sendable, CustomStringConvertible {
    case unstructured
    case nOfM(n: Int, m: Int)

    /// Parses `"unstructured"` or `"N:M"` (e.g. `"2:4"`), the recipe spelling.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "unstructured" { self = .unstructured; return }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else {
            throw PruningError.invalidPattern(text, reason: "not of the form N:M")
        }
        self = .nOfM(n: n, m: m)
        try validate()
    }

    /// Checks 0 < n < m.
    public func validate() throws {
        guard case let .nOfM(n, m) = self else { return }
        guard n > 0, n < m else {
            throw PruningError.invalidPattern(description, reason: "N must satisfy 0 < N < M, found N = \(n), M = \(m)")
        }
    }

    /// Checks that the pattern fits a layer of the given input width (M divides it).
    public func validate(inputWidth: Int, layer: String) throws {
        try validate()
        if case let .nOfM(_, m) = self, inputWidth % m != 0 {
            throw PruningError.patternDoesNotDivide(layer: layer, inputWidth: inputWidth, m: m)
        }
    }

    /// The sparsity an N:M pattern implies, (m − n) / m; `nil` for unstructured.
    public var impliedSparsity: Double? {
        guard case let .nOfM(n, m) = self else { return nil }
        return Double(m - n) / Double(m)
    }

    public var description: String {
        switch self {
        case .unstructured: return "unstructured"
        case let .nOfM(n, m): return "\(n):\(m)"
        }
    }
}
