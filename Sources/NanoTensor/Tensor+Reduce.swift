/// Reductions over axes. Each single-axis reduction views the tensor as [outer, n, inner].
extension Tensor {
    func normalizedAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// (outer, n, inner) extents around `axis`.
    func split(around axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Sum over `axes` (all axes when empty).
    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let list = axes.isEmpty ? Array(0..<rank) : axes.map(normalizedAxis)
        var result = self
        for axis in Set(list).sorted(by: >) { result = result.sumAlong(axis) }
        if keepDims { return result }
        return result.reshaped(shape.enumerated().filter { !list.contains($0.offset) }.map(\.element))
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all axes when empty).
    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let list = axes.isEmpty ? Array(0..<rank) : axes.map(normalizedAxis)
        let n = Set(list).map { shape[$0] }.reduce(1, *)
        return sum(axes: list, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Sum along one axis, keeping it with extent 1.
    func sumAlong(_ axis: Int) -> Tensor {
        let (outer, n, inner) = split(around: axis)
        var newShape = shape
        newShape[axis] = 1
        var out = [Float](repeating: 0, count: outer * inner)
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for o in 0..<outer {
                    if inner == 1 {
                        var acc: Float = 0
                        let row = s + o * n
                        for i in 0..<n { acc += row[i] }
                        d[o] = acc
                    } else {
                        let drow = d + o * inner
                        for i in 0..<n {
                            let srow = s + (o * n + i) * inner
                            for j in 0..<inner { drow[j] += srow[j] }
                        }
                    }
                }
            }
        }
        return Tensor(shape: newShape, scalars: out)
    }

    /// The maximum along `axis` and the index where it occurs (the first, on ties).
    public func maxWithIndices(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: [Int]) {
        let ax = normalizedAxis(axis)
        let (outer, n, inner) = split(around: ax)
        precondition(n > 0, "max: axis \(axis) of \(shape) is empty")
        var values = [Float](repeating: -.infinity, count: outer * inner)
        var indices = [Int](repeating: 0, count: outer * inner)
        scalars.withUnsafeBufferPointer { s in
            for o in 0..<outer {
                for j in 0..<inner {
                    var best = s[o * n * inner + j], at = 0
                    for i in 1..<n {
                        let v = s[(o * n + i) * inner + j]
                        if v > best || (best.isNaN == false && v.isNaN) { best = v; at = i }
                    }
                    values[o * inner + j] = best
                    indices[o * inner + j] = at
                }
            }
        }
        var newShape = shape
        if keepDims { newShape[ax] = 1 } else { newShape.remove(at: ax) }
        return (Tensor(shape: newShape, scalars: values), indices)
    }

    public func max(axis: Int, keepDims: Bool = false) -> Tensor { maxWithIndices(axis: axis, keepDims: keepDims).values }

    /// Index of the maximum along the last axis, one per row.
    public func argmaxLastAxis() -> [Int] { maxWithIndices(axis: -1).indices }
}
