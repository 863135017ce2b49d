/// NumPy broadcasting: shapes are aligned at their last axis; an extent of 1 stretches.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of `shape` read as if broadcast to `target` (0 where an axis stretches).
    static func strides(of shape: [Int], in target: [Int]) -> [Int] {
        let pad = target.count - shape.count
        let own = shape.rowMajorStrides
        return (0..<target.count).map { i in
            i < pad ? 0 : (shape[i - pad] == 1 && target[i] != 1 ? 0 : own[i - pad])
        }
    }

    /// Merges adjacent axes whose strides in every operand are contiguous with each other, so
    /// that broadcasting loops run over as few, as long, axes as possible.
    static func coalesce(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides: [[Int]] = strides.map { _ in [] }
        for axis in 0..<shape.count where shape[axis] != 1 {
            if let last = outShape.last,
               strides.indices.allSatisfy({ strides[$0][axis] * shape[axis] == outStrides[$0].last! }) {
                outShape[outShape.count - 1] = last * shape[axis]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][axis] }
            } else {
                outShape.append(shape[axis])
                for k in strides.indices { outStrides[k].append(strides[k][axis]) }
            }
        }
        if outShape.isEmpty { return ([1], strides.map { _ in [1] }) }
        return (outShape, outStrides)
    }
}
