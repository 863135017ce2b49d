/// Layer and RMS normalisation over the last axis, statistics in Double.
extension Reference {
    /// (x - mean) / √(var + ε) · γ + β over the last axis, var the biased variance.
    public static func layerNorm(_ x: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> Tensor {
        rows(x) { row in
            let d = Double(row.count)
            let mean = row.reduce(0, +) / d
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / d
            let s = 1 / (variance + Double(epsilon)).squareRoot()
            return row.indices.map { j in
                let g = gamma.map { Double($0.scalars[j]) } ?? 1
                let b = beta.map { Double($0.scalars[j]) } ?? 0
                return (row[j] - mean) * s * g + b
            }
        }
    }

    /// x / √(mean(x²) + ε) · γ over the last axis.
    public static func rmsNorm(_ x: Tensor, gamma: Tensor?, epsilon: Float = 1e-6) -> Tensor {
        rows(x) { row in
            let meanSquare = row.map { $0 * $0 }.reduce(0, +) / Double(row.count)
            let s = 1 / (meanSquare + Double(epsilon)).squareRoot()
            return row.indices.map { j in row[j] * s * (gamma.map { Double($0.scalars[j]) } ?? 1) }
        }
    }

    /// Applies `f` to each row along the last axis, in Double.
    static func rows(_ x: Tensor, _ f: ([Double]) -> [Double]) -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] > 0, "Reference: norms need a non-empty last axis, got \(x.shape)")
        let d = x.shape[x.rank - 1]
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<(x.count / d) {
            let result = f((0..<d).map { Double(x.scalars[r * d + $0]) })
            for j in 0..<d { out[r * d + j] = Float(result[j]) }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}
