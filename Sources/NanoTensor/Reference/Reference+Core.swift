/// Naive references for the core kernels: broadcasting binary ops, matmul and reductions.
/// Every element is located through an explicit multi-index; sums accumulate in Double.
extension Reference {
    // MARK: Index arithmetic

    /// The multi-index of row-major position `flat` in `shape`.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = flat
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }

    /// The row-major position of a multi-index in `shape`.
    static func ravel(_ index: [Int], _ shape: [Int]) -> Int {
        var flat = 0
        for axis in 0..<shape.count { flat = flat * shape[axis] + index[axis] }
        return flat
    }

    static func product(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The NumPy broadcast of two shapes (right-aligned; 1 stretches).
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        return (0..<rank).map { i in
            precondition(pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1, "Reference: shapes \(a) and \(b) do not broadcast")
            return pa[i] == 1 ? pb[i] : pa[i]
        }
    }

    /// The flat position in `shape` that broadcasting reads for the output multi-index `outIndex`.
    static func broadcastSource(_ outIndex: [Int], _ shape: [Int]) -> Int {
        let pad = outIndex.count - shape.count
        let index = (0..<shape.count).map { i in shape[i] == 1 ? 0 : outIndex[pad + i] }
        return ravel(index, shape)
    }

    // MARK: Kernels

    /// `op(a, b)` elementwise with NumPy broadcasting.
    public static func broadcast(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        let shape = broadcastShape(a.shape, b.shape)
        var out = [Float](repeating: 0, count: product(shape))
        for flat in out.indices {
            let index = unravel(flat, shape)
            out[flat] = op(a.scalars[broadcastSource(index, a.shape)], b.scalars[broadcastSource(index, b.shape)])
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// `op(a) · op(b)` over broadcast batch axes, one dot product (in Double) per output element.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "Reference.matmul: operands need rank ≥ 2")
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (kb, n) = transposeB ? (bc, br) : (br, bc)
        precondition(k == kb, "Reference.matmul: inner extents \(k) and \(kb) differ")
        let batch = broadcastShape(aBatch, bBatch)
        var out = [Float](repeating: 0, count: product(batch) * m * n)
        for flat in out.indices {
            let index = unravel(flat, batch + [m, n])
            let batchIndex = Array(index.prefix(batch.count)), i = index[batch.count], j = index[batch.count + 1]
            let aBase = broadcastSource(batchIndex, aBatch) * ar * ac
            let bBase = broadcastSource(batchIndex, bBatch) * br * bc
            var acc = 0.0
            for p in 0..<k {
                let av = a.scalars[aBase + (transposeA ? p * ac + i : i * ac + p)]
                let bv = b.scalars[bBase + (transposeB ? j * bc + p : p * bc + j)]
                acc += Double(av) * Double(bv)
            }
            out[flat] = Float(acc)
        }
        return Tensor(shape: batch + [m, n], scalars: out)
    }

    /// Sum over `axes` (all when empty; negative axes count from the end), in Double.
    public static func sum(_ x: Tensor, axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let reduced = Set(axes.isEmpty ? Array(0..<x.rank) : axes.map { $0 < 0 ? $0 + x.rank : $0 })
        let kept = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        var acc = [Double](repeating: 0, count: product(kept))
        for flat in x.scalars.indices {
            var index = unravel(flat, x.shape)
            for axis in reduced { index[axis] = 0 }
            acc[ravel(index, kept)] += Double(x.scalars[flat])
        }
        let shape = keepDims ? kept : x.shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        return Tensor(shape: shape, scalars: acc.map { Float($0) })
    }

    /// Mean over `axes` (all when empty), in Double.
    public static func mean(_ x: Tensor, axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let reduced = Set(axes.isEmpty ? Array(0..<x.rank) : axes.map { $0 < 0 ? $0 + x.rank : $0 })
        let n = reduced.map { x.shape[$0] }.reduce(1, *)
        let total = sum(x, axes: axes, keepDims: keepDims)
        return Tensor(shape: total.shape, scalars: total.scalars.map { Float(Double($0) / Double(n)) })
    }

    /// Maximum along `axis`; NaN if any compared element is NaN.
    public static func max(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        precondition(ax >= 0 && ax < x.rank && x.shape[ax] > 0, "Reference.max: bad axis \(axis) for \(x.shape)")
        var kept = x.shape
        kept[ax] = 1
        var best = [Float](repeating: -.infinity, count: product(kept))
        for flat in x.scalars.indices {
            var index = unravel(flat, x.shape)
            index[ax] = 0
            let o = ravel(index, kept), v = x.scalars[flat]
            if v.isNaN || best[o].isNaN { best[o] = .nan } else if v > best[o] { best[o] = v }
        }
        var shape = x.shape
        if keepDims { shape[ax] = 1 } else { shape.remove(at: ax) }
        return Tensor(shape: shape, scalars: best)
    }
}
