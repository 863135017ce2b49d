import NanoTensor

/// How important each weight of a Linear layer W [out, in] is; pruning removes the lowest scores.
public enum PruningMethod: String, Equatable, Hashable, Sendable, CaseIterable {
    /// |W_ij|: the classic magnitude criterion (Han et al. 2015, "Learning both Weights and
    /// Connections for Efficient Neural Networks").
    case magnitude
    /// |W_ij| · ‖X_j‖₂ (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large
    /// Language Models"): a weight matters as much as its size times the typical size of the
    /// input feature it multiplies, measured on calibration data.
    case wanda
}

/// Importance scores for a Linear weight, one per element, laid out as W.
public enum PruningScore {
    /// |W| elementwise. weight: [out, in] → [out, in]
    public static func magnitude(_ weight: Tensor) -> Tensor {
        weight.applying { Swift.abs($0) }
    }

    /// Wanda's |W_ij| · ‖X_j‖₂, where `inputNorms[j]` is the L2 norm of input feature j over all
    /// calibration tokens (`ActivationNormAccumulator.norms`). weight: [out, in], inputNorms: [in].
    public static func wanda(_ weight: Tensor, inputNorms: [Float]) -> Tensor {
        precondition(weight.rank == 2 && weight.shape[1] == inputNorms.count,
                     "wanda: \(inputNorms.count) input norms for weight \(weight.shape)")
        let cols = weight.shape[1]
        var out = weight
        out.scalars.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = Swift.abs(p[i]) * inputNorms[i % cols] }
        }
        return out
    }

    /// The score of `method` for a layer; `inputNorms` is required for `.wanda`.
    public static func scores(_ method: PruningMethod, weight: Tensor, inputNorms: [Float]?, layer: String) throws -> Tensor {
        switch method {
        case .magnitude:
            return magnitude(weight)
        case .wanda:
            guard let inputNorms else { throw PruningError.missingActivationNorms(layer: layer) }
            guard inputNorms.count == weight.shape[1] else {
                throw PruningError.activationNormsMismatch(layer: layer, expected: weight.shape[1], found: inputNorms.count)
            }
            return wanda(weight, inputNorms: inputNorms)
        }
    }
}

/// Accumulates Σ x_j² per input feature j over calibration batches, for Wanda scores and
/// activation-based structured importance.
///
/// Sums are kept in `Double`, so thousands of tokens add up without losing the small features.
public struct ActivationNormAccumulator: Equatable, Sendable {
    /// Σ x_j² over every token seen, per feature.
    public private(set) var sumOfSquares: [Double]
    /// The number of tokens (rows) accumulated.
    public private(set) var tokenCount: Int = 0

    /// An empty accumulator for `features` input features.
    public init(features: Int) {
        sumOfSquares = [Double](repeating: 0, count: features)
    }

    /// The number of input features.
    public var features: Int { sumOfSquares.count }

    /// Adds a batch x: [..., features] (leading axes are tokens). When `rowMask` is given (one
    /// flag per token, e.g. the attention mask flattened), only rows with a non-zero flag count,
    /// so padding tokens do not dilute the norms.
    public mutating func add(_ x: Tensor, rowMask: [Float]? = nil) {
        let f = features
        precondition(x.rank >= 1 && x.shape[x.rank - 1] == f, "ActivationNormAccumulator: batch \(x.shape) for \(f) features")
        let rows = x.count / Swift.max(f, 1)
        if let rowMask { precondition(rowMask.count == rows, "ActivationNormAccumulator: \(rowMask.count) mask flags for \(rows) rows") }
        x.scalars.withUnsafeBufferPointer { p in
            sumOfSquares.withUnsafeMutableBufferPointer { acc in
                var row = [Float](repeating: 0, count: f)
                for r in 0..<rows where rowMask.map({ $0[r] != 0 }) ?? true {
                    for j in 0..<f { let v = p[r * f + j]; row[j] += v * v }
                    tokenCount += 1
                    // Flush the Float partial sums every 64 rows to keep precision.
                    if tokenCount % 64 == 0 { for j in 0..<f { acc[j] += Double(row[j]); row[j] = 0 } }
                }
                for j in 0..<f { acc[j] += Double(row[j]) }
            }
        }
    }

    /// Merges another accumulator over the same features.
    public mutating func merge(_ other: ActivationNormAccumulator) {
        precondition(other.features == features, "ActivationNormAccumulator: merging \(other.features) into \(features) features")
        for j in 0..<features { sumOfSquares[j] += other.sumOfSquares[j] }
        tokenCount += other.tokenCount
    }

    /// ‖X_j‖₂ = √(Σ x_j²) per feature: Wanda's activation term.
    public var norms: [Float] { sumOfSquares.map { Float($0.squareRoot()) } }
}
