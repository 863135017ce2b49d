import NanoTensor

/// The selection arithmetic shared by every pruning method: given scores, which elements to keep.
/// Ties are broken by position (lower flat index, earlier tensor pruned first), NaN scores count
/// as the lowest, so results are deterministic and exact.
enum MaskSelection {
    /// round(s · n): the exact number of elements a target sparsity prunes.
    static func pruneCount(sparsity: Double, of n: Int) -> Int {
        Swift.min(n, Swift.max(0, Int((sparsity * Double(n)).rounded())))
    }

    /// Prunes exactly `count` of the lowest scores across all `tensors` together (one threshold).
    static func lowest(_ tensors: [Tensor], count: Int) -> [SparsityMask] {
        let flat = tensors.flatMap { $0.scalars.map(sanitized) }
        let keep = lowestFlags(flat[...], count: count)
        var masks: [SparsityMask] = [], start = 0
        for t in tensors {
            masks.append(SparsityMask(shape: t.shape, keep: Array(keep[start..<start + t.count])))
            start += t.count
        }
        return masks
    }

    /// Prunes `count` weights of a [rows, cols] score matrix, each row compared on its own: row r
    /// prunes ⌊count/rows⌋, plus one for the first `count % rows` rows.
    static func lowestPerRow(_ scores: Tensor, count: Int) -> SparsityMask {
        precondition(scores.rank == 2, "lowestPerRow: scores must be [rows, cols], got \(scores.shape)")
        let (rows, cols) = (scores.shape[0], scores.shape[1])
        var keep = [Bool](repeating: true, count: scores.count)
        let values = scores.scalars.map(sanitized)
        for r in 0..<rows {
            let k = count / rows + (r < count % rows ? 1 : 0)
            let flags = lowestFlags(values[r * cols..<(r + 1) * cols], count: k)
            for j in 0..<cols { keep[r * cols + j] = flags[j] }
        }
        return SparsityMask(shape: scores.shape, keep: keep)
    }

    /// N:M: in each group of `m` consecutive elements of a row, keeps the `n` highest scores
    /// (ties: the lower index is kept).
    static func nOfM(_ scores: Tensor, n: Int, m: Int) -> SparsityMask {
        precondition(scores.rank == 2 && scores.shape[1] % m == 0, "nOfM: \(scores.shape) not divisible into groups of \(m)")
        let values = scores.scalars.map(sanitized)
        var keep = [Bool](repeating: false, count: values.count)
        var order = [Int](repeating: 0, count: m)
        for g in stride(from: 0, to: values.count, by: m) {
            for i in 0..<m { order[i] = i }
            order.sort { (values[g + $0], -$0) > (values[g + $1], -$1) }
            for i in 0..<n { keep[g + order[i]] = true }
        }
        return SparsityMask(shape: scores.shape, keep: keep)
    }

    /// Keep-flags for a slice: false for exactly `count` lowest values (ties by position).
    static func lowestFlags(_ values: ArraySlice<Float>, count: Int) -> [Bool] {
        guard count > 0 else { return [Bool](repeating: true, count: values.count) }
        guard count < values.count else { return [Bool](repeating: false, count: values.count) }
        let threshold = values.sorted()[count - 1]
        var ties = count - values.reduce(0) { $0 + ($1 < threshold ? 1 : 0) }
        return values.map { v in
            if v < threshold { return false }
            if v == threshold, ties > 0 { ties -= 1; return false }
            return true
        }
    }

    private static func sanitized(_ v: Float) -> Float { v.isNaN ? -.infinity : v }
}
