import Foundation
import NanoCheckpoint

/// Which (tensor, ggml type) pairs `mixed_precision` measures, and how it predicts the KL
/// divergence of the others from them and from each pair's relative weight error
/// e = ‖W − Ŵ‖ / ‖W‖ (exact, computed for every pair).
///
/// Why a prediction: a 135 M-parameter decoder has 211 matrices and ~7 types; a forward pass over
/// the probe per pair would take most of an hour on 2 cores. For a small change of one weight the
/// logits move linearly in ΔW and the KL between nearby distributions is quadratic in the change
/// of logits, so for one tensor, whose types round with errors of a similar pattern, KL ∝ e².
///
/// - Measured: every tensor at its *anchor*, the fitting type whose bits per weight is nearest
///   `anchorBits` (ties: the larger error), where the budgets of 4–6 bits decide; and, for a
///   sample of the tensors of each kind (`kind(of:)`: the same matrix in every block), at the
///   *low* point, the smallest fitting type at least one bit per weight below the anchor, where KL
///   leaves the quadratic regime.
/// - Predicted: KL(t) = KL(anchor) · (e_t / e_anchor)^p with p = 2 below the anchor's error; above
///   it, p is the exponent through the anchor and the low point (`exponent`, clamped to 1…4): the
///   tensor's own where its low point was measured, else the median of its kind's, else 2.
///   Measured pairs keep their measurement. The model's KL is the sum over tensors (additive).
public enum GGMLSensitivityModel {
    /// Bits per weight of the preferred anchor type (Q4_0, IQ4_NL, Q4_K).
    public static let anchorBits = 4.5
    /// The exponent where none was fitted: KL quadratic in the weight error.
    public static let defaultExponent = 2.0

    /// The index of the anchor among `types` (non-empty) with their relative errors.
    public static func anchor(types: [GGUFTensorType], errors: [Double]) -> Int {
        precondition(!types.isEmpty && types.count == errors.count, "GGMLSensitivityModel.anchor: \(types.count) types, \(errors.count) errors")
        return types.indices.min { a, b in
            let (da, db) = (abs(types[a].bitsPerWeight - anchorBits), abs(types[b].bitsPerWeight - anchorBits))
            return da != db ? da < db : errors[a] > errors[b]
        }!
    }

    /// The index of the low point: the type with the fewest bits per weight among those at least
    /// one bit below the anchor; nil when there is none.
    public static func low(types: [GGUFTensorType], anchor: Int) -> Int? {
        let below = types.indices.filter { types[$0].bitsPerWeight <= types[anchor].bitsPerWeight - 1 }
        return below.min { types[$0].bitsPerWeight < types[$1].bitsPerWeight }
    }

    /// The indices to measure: the anchor, then the low point when there is one and `withLow`.
    public static func measuredIndices(types: [GGUFTensorType], errors: [Double], withLow: Bool = true) -> [Int] {
        let a = anchor(types: types, errors: errors)
        return [a] + (withLow ? low(types: types, anchor: a).map { [$0] } ?? [] : [])
    }

    /// The exponent p of KL ∝ e^p through the measured anchor and low point, clamped to 1…4; nil
    /// when the low point was not measured or the two do not rise together (KL or error).
    public static func exponent(types: [GGUFTensorType], errors: [Double], measured: [Int: Double]) -> Double? {
        let a = anchor(types: types, errors: errors)
        guard let l = low(types: types, anchor: a), let anchorKL = measured[a], let lowKL = measured[l],
              lowKL > anchorKL, anchorKL > 0, errors[l] > errors[a], errors[a] > 0 else { return nil }
        return min(4, max(1, Foundation.log(lowKL / anchorKL) / Foundation.log(errors[l] / errors[a])))
    }

    /// The KL of every type: `measured` (index → mean KL) where given, else predicted from the
    /// anchor's (which must be measured) with `upperExponent` above the anchor's error.
    public static func predict(types: [GGUFTensorType], errors: [Double], measured: [Int: Double],
                               upperExponent: Double = defaultExponent) -> [Double] {
        let a = anchor(types: types, errors: errors)
        guard let anchorKL = measured[a].map({ max(0, $0) }) else {
            preconditionFailure("GGMLSensitivityModel.predict: the anchor \(types[a].name) was not measured")
        }
        let ea = errors[a]
        return types.indices.map { i in
            if let m = measured[i] { return max(0, m) }
            guard ea > 0 else { return anchorKL }
            let ratio = errors[i] / ea
            return anchorKL * Foundation.pow(ratio, ratio <= 1 ? 2 : upperExponent)
        }
    }

    /// A tensor's kind: its name with every all-digit component as `*` (`layers.*.mlp.down_proj`).
    public static func kind(of layer: String) -> String {
        layer.split(separator: ".", omittingEmptySubsequences: false)
            .map { !$0.isEmpty && $0.allSatisfy(\.isNumber) ? "*" : String($0) }.joined(separator: ".")
    }

    /// Up to `count` of `members` (indices, in order), evenly spread with the first and the last.
    public static func sample(_ members: [Int], count: Int) -> [Int] {
        guard count > 1, members.count > count else { return count == 1 ? Array(members.prefix(1)) : members }
        return Array(Set((0..<count).map { members[$0 * (members.count - 1) / (count - 1)] })).sorted()
    }

    /// The median of `values`; nil when empty.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted(), m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }
}
