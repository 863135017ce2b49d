/// Naive references for the shape ops: every output element is located by its multi-index.
extension Reference {
    /// `x` with result axis `i` taken from axis `axes[i]` (negative axes count from the end).
    public static func permute(_ x: Tensor, _ axes: [Int]) -> Tensor {
        let perm = axes.map { $0 < 0 ? $0 + x.rank : $0 }
        precondition(perm.sorted() == Array(0..<x.rank), "Reference.permute: \(axes) is not a permutation for \(x.shape)")
        let shape = perm.map { x.shape[$0] }
        var out = [Float](repeating: 0, count: x.count)
        for flat in out.indices {
            let index = unravel(flat, shape)
            var source = [Int](repeating: 0, count: x.rank)
            for (i, p) in perm.enumerated() { source[p] = index[i] }
            out[flat] = x.scalars[ravel(source, x.shape)]
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// The tensors joined along `axis`.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        guard let first = tensors.first else { preconditionFailure("Reference.concat: no tensors") }
        let ax = axis < 0 ? axis + first.rank : axis
        var shape = first.shape
        shape[ax] = tensors.map { $0.shape[ax] }.reduce(0, +)
        var out = [Float](repeating: 0, count: product(shape))
        for flat in out.indices {
            var index = unravel(flat, shape)
            var which = 0
            while index[ax] >= tensors[which].shape[ax] {
                index[ax] -= tensors[which].shape[ax]
                which += 1
            }
            out[flat] = tensors[which].scalars[ravel(index, tensors[which].shape)]
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// The entries of `x` whose index along `axis` lies in `range`.
    public static func slice(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        var shape = x.shape
        shape[ax] = range.count
        var out = [Float](repeating: 0, count: product(shape))
        for flat in out.indices {
            var index = unravel(flat, shape)
            index[ax] += range.lowerBound
            out[flat] = x.scalars[ravel(index, x.shape)]
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Rows of `table` [V, D] picked by `indices` → [indices.count, D].
    public static func gatherRows(_ table: Tensor, _ indices: [Int]) -> Tensor {
        let width = table.shape[1]
        var out = [Float](repeating: 0, count: indices.count * width)
        for (i, row) in indices.enumerated() {
            for j in 0..<width { out[i * width + j] = table[row, j] }
        }
        return Tensor(shape: [indices.count, width], scalars: out)
    }
}
