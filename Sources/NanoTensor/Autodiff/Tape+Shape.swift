/// Differentiable shape ops. Each backward rule is the adjoint copy: reshape back, inverse
/// permutation, split for concat, zero-padding for slice.
extension Tape {
    /// `x` viewed with another shape of the same element count (one extent may be -1).
    public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
        let inputShape = x.shape
        return record(x.value.reshaped(shape), inputs: [x]) { g, _ in [g.reshaped(inputShape)] }
    }

    /// `x` with its axes reordered as in `Tensor.permuted(_:)`.
    public func permute(_ x: Variable, _ axes: [Int]) -> Variable {
        let out = x.value.permuted(axes)
        let rank = x.rank
        // The output's axis i is the input's axis perm[i], so the inverse sends it back.
        let perm = axes.map { $0 < 0 ? $0 + rank : $0 }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return record(out, inputs: [x]) { g, _ in [g.permuted(inverse)] }
    }

    /// `x` with axes `a` and `b` swapped.
    public func transpose(_ x: Variable, _ a: Int = -2, _ b: Int = -1) -> Variable {
        let i = x.value.resolvedAxis(a, "transpose"), j = x.value.resolvedAxis(b, "transpose")
        var perm = Array(0..<x.rank)
        perm.swapAt(i, j)
        return permute(x, perm)
    }

    /// The variables joined along `axis`.
    public func concat(_ xs: [Variable], axis: Int) -> Variable {
        let out = Tensor.concat(xs.map(\.value), axis: axis)
        let ax = axis < 0 ? axis + out.rank : axis
        let sizes = xs.map { $0.shape[ax] }
        return record(out, inputs: xs) { g, needs in
            let pieces = g.split(sizes: sizes, axis: ax)
            return zip(pieces, needs).map { piece, need in need ? piece : nil }
        }
    }

    /// Consecutive pieces of `x` along `axis` with the given extents.
    public func split(_ x: Variable, sizes: [Int], axis: Int) -> [Variable] {
        let ax = x.value.resolvedAxis(axis, "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == x.shape[ax],
                     "split: sizes \(sizes) do not add up to extent \(x.shape[ax]) of axis \(axis) in \(x.shape)")
        var lower = 0
        return sizes.map { size in
            defer { lower += size }
            return slice(x, axis: ax, range: lower..<(lower + size))
        }
    }

    /// The entries of `x` whose index along `axis` lies in `range`.
    public func slice(_ x: Variable, axis: Int, range: Range<Int>) -> Variable {
        let out = x.value.slice(axis: axis, range: range)
        let ax = x.value.resolvedAxis(axis, "slice")
        let inputShape = x.shape
        return record(out, inputs: [x]) { g, _ in
            [g.placedInZeros(shape: inputShape, axis: ax, at: range.lowerBound)]
        }
    }
}
