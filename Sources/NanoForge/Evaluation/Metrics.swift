import Foundation
import NanoTensor

/// The evaluation metrics as pure functions of plain arrays and tensors, each checked against
/// hand-computed cases in `MetricsTests`.
public enum Metrics {
    // MARK: Cosine

    /// Row-wise cosine similarity of two [N, D] matrices: element i compares row i of `a` with row
    /// i of `b`. A row of zero norm has cosine 0 with anything (there is no direction to compare).
    public static func rowCosines(_ a: Tensor, _ b: Tensor) -> [Double] {
        precondition(a.rank == 2 && a.shape == b.shape, "rowCosines: shapes \(a.shape) and \(b.shape) differ or are not [N, D]")
        let n = a.shape[0], d = a.shape[1]
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var dot = 0.0, na = 0.0, nb = 0.0
            for j in 0..<d {
                let x = Double(a.scalars[i * d + j]), y = Double(b.scalars[i * d + j])
                dot += x * y; na += x * x; nb += y * y
            }
            let norms = (na * nb).squareRoot()
            out[i] = norms > 0 ? dot / norms : 0
        }
        return out
    }

    /// Mean and minimum of the row-wise cosines of two [N, D] matrices (N ≥ 1).
    public static func cosineSummary(_ a: Tensor, _ b: Tensor) -> (mean: Double, min: Double) {
        let c = rowCosines(a, b)
        precondition(!c.isEmpty, "cosineSummary: no rows")
        return (c.reduce(0, +) / Double(c.count), c.min() ?? 0)
    }

    // MARK: Retrieval

    /// The 1-based rank of each query's own target (row i of `targets` for row i of `queries`)
    /// among all targets, ordered by cosine similarity. Ties count against the query: every other
    /// target scoring exactly as high as the right one ranks ahead of it, so a model that maps
    /// everything to one vector scores rank N, not 1.
    public static func retrievalRanks(queries: Tensor, targets: Tensor) -> [Int] {
        precondition(queries.rank == 2 && queries.shape == targets.shape,
                     "retrievalRanks: shapes \(queries.shape) and \(targets.shape) differ or are not [N, D]")
        let n = queries.shape[0]
        // scores: [N queries, N targets], cosine because both sides are L2-normalised first.
        let scores = Tensor.matmul(normalizedRows(queries), normalizedRows(targets), transposeB: true)
        var ranks = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let row = i * n, own = scores.scalars[row + i]
            var ahead = 0
            for j in 0..<n where j != i && scores.scalars[row + j] >= own { ahead += 1 }
            ranks[i] = ahead + 1
        }
        return ranks
    }

    /// Top-1 accuracy (share of rank-1 queries) and mean reciprocal rank of 1-based ranks.
    public static func retrievalSummary(ranks: [Int]) -> (top1: Double, mrr: Double) {
        precondition(!ranks.isEmpty, "retrievalSummary: no ranks")
        let n = Double(ranks.count)
        return (Double(ranks.filter { $0 == 1 }.count) / n, ranks.reduce(0.0) { $0 + 1 / Double($1) } / n)
    }

    /// Rows scaled to unit L2 norm; zero rows stay zero.
    public static func normalizedRows(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "normalizedRows: expected [N, D], got \(x.shape)")
        let d = x.shape[1]
        var s = x.scalars
        for i in 0..<x.shape[0] {
            var sum: Float = 0
            for j in 0..<d { sum += s[i * d + j] * s[i * d + j] }
            let inv: Float = sum > 0 ? 1 / sum.squareRoot() : 0
            for j in 0..<d { s[i * d + j] *= inv }
        }
        return Tensor(shape: x.shape, scalars: s)
    }

    // MARK: Classification

    /// Share of positions where `predicted` equals `actual` (same length, ≥ 1).
    public static func accuracy<Label: Equatable>(predicted: [Label], actual: [Label]) -> Double {
        precondition(predicted.count == actual.count && !actual.isEmpty, "accuracy: \(predicted.count) predictions for \(actual.count) labels")
        return Double(zip(predicted, actual).filter { $0 == $1 }.count) / Double(actual.count)
    }

    /// Unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN). The classes are those that
    /// occur in `actual` or `predicted` (scikit-learn's default); a class with no true positive
    /// scores 0.
    public static func macroF1<Label: Hashable>(predicted: [Label], actual: [Label]) -> Double {
        precondition(predicted.count == actual.count && !actual.isEmpty, "macroF1: \(predicted.count) predictions for \(actual.count) labels")
        var tp: [Label: Int] = [:], fp: [Label: Int] = [:], fn: [Label: Int] = [:]
        for (p, a) in zip(predicted, actual) {
            if p == a { tp[a, default: 0] += 1 } else { fp[p, default: 0] += 1; fn[a, default: 0] += 1 }
        }
        // Classes in order of first appearance, not Set order: Swift seeds hashing per process, and
        // a sum in hash order differs in the last bits from run to run.
        var seen = Set<Label>()
        let classes = (actual + predicted).filter { seen.insert($0).inserted }
        let f1 = classes.map { c -> Double in
            let t = Double(tp[c] ?? 0), denominator = 2 * t + Double(fp[c] ?? 0) + Double(fn[c] ?? 0)
            return denominator > 0 ? 2 * t / denominator : 0
        }
        return f1.reduce(0, +) / Double(classes.count)
    }

    // MARK: Rank correlation

    /// 1-based ranks of `values` in ascending order, tied values sharing the average of the ranks
    /// they span (`[10, 20, 20, 30]` → `[1, 2.5, 2.5, 4]`).
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            let average = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = average }
            start = end + 1
        }
        return ranks
    }

    /// Pearson correlation of two equally long samples; NaN when either is constant.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count && x.count >= 2, "pearson: needs two equally long samples of ≥ 2 values")
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    /// Spearman's rank correlation: Pearson correlation of the average ranks, which handles ties
    /// as `scipy.stats.spearmanr` does. NaN when either sample is constant.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(averageRanks(x), averageRanks(y))
    }

    // MARK: Language modelling

    /// Perplexity exp(mean negative log-likelihood), the NLL in nats per token.
    public static func perplexity(meanNegativeLogLikelihood nll: Double) -> Double { Foundation.exp(nll) }
}
