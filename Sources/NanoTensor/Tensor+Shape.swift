/// Copying shape ops: permutation, transpose, concatenation, split and slicing.
///
/// Every op produces a new contiguous row-major tensor. Permutations coalesce axes that stay
/// adjacent in memory and then copy whole contiguous runs (`memcpy`), or transpose in cache tiles
/// when the innermost output axis is strided in the source.
extension Tensor {
    /// `axis` made non-negative, or a precondition failure naming `op`.
    func resolvedAxis(_ axis: Int, _ op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for shape \(shape) (rank \(rank))")
        return a
    }

    /// The tensor with its axes reordered: result axis `i` is axis `axes[i]` of `self`.
    ///
    /// `axes` must be a permutation of `0..<rank`; negative entries count from the end.
    /// For example `x.permuted([0, 2, 1, 3])` turns [B, T, H, D] into [B, H, T, D].
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank, "permuted: \(axes.count) axes given for shape \(shape) (rank \(rank))")
        let perm = axes.map { resolvedAxis($0, "permuted") }
        precondition(Set(perm).count == rank, "permuted: \(axes) is not a permutation of the axes of \(shape)")
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let own = shape.rowMajorStrides
        let srcStrides = perm.map { own[$0] }
        let out = Tensor.uninitializedScalars(count) { dst in
            scalars.withUnsafeBufferPointer { src in
                Tensor.stridedCopy(src.baseAddress!, srcStrides, dst, outShape.rowMajorStrides, outShape)
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// The tensor with axes `a` and `b` swapped (by default the last two: a matrix transpose).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let i = resolvedAxis(a, "transposed"), j = resolvedAxis(b, "transposed")
        var perm = Array(0..<rank)
        perm.swapAt(i, j)
        return permuted(perm)
    }

    /// The tensors joined along `axis`; all other extents must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        guard let first = tensors.first else { preconditionFailure("concat: no tensors given") }
        let ax = first.resolvedAxis(axis, "concat")
        for (i, t) in tensors.enumerated() {
            precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == ax || t.shape[$0] == first.shape[$0] },
                         "concat: tensor \(i) has shape \(t.shape); every extent but axis \(axis) must match tensor 0, \(first.shape)")
        }
        var outShape = first.shape
        outShape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let rowLength = outShape[ax] * inner
        let out = uninitializedScalars(outShape.elementCount) { dst in
            var offset = 0
            for t in tensors {
                let run = t.shape[ax] * inner
                if run > 0 {
                    t.scalars.withUnsafeBufferPointer { src in
                        for o in 0..<outer {
                            (dst + o * rowLength + offset).initialize(from: src.baseAddress! + o * run, count: run)
                        }
                    }
                }
                offset += run
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// Consecutive pieces along `axis` with the given extents, which must add up to that axis.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = resolvedAxis(axis, "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[ax],
                     "split: sizes \(sizes) do not add up to extent \(shape[ax]) of axis \(axis) in \(shape)")
        var lower = 0
        return sizes.map { size in
            defer { lower += size }
            return slice(axis: ax, range: lower..<(lower + size))
        }
    }

    /// The elements whose index along `axis` lies in `range`; the axis keeps `range.count` entries.
    public func slice(axis: Int, range: Range<Int>) -> Tensor {
        let ax = resolvedAxis(axis, "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        if range.count == shape[ax] { return self }
        var outShape = shape
        outShape[ax] = range.count
        let (outer, n, inner) = split(around: ax)
        let run = range.count * inner
        let out = Tensor.uninitializedScalars(outShape.elementCount) { dst in
            scalars.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    (dst + o * run).initialize(from: src.baseAddress! + (o * n + range.lowerBound) * inner, count: run)
                }
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// A new array of `count` scalars, every one of which `body` must write (no zero-fill first);
    /// `body` is not called when `count` is 0.
    @inline(__always)
    static func uninitializedScalars(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let base = buffer.baseAddress { body(base) }
            initialized = count
        }
    }

    /// Zeros of `shape` with `self` written at `lower...` along `axis` (the adjoint of `slice`).
    func placedInZeros(shape target: [Int], axis ax: Int, at lower: Int) -> Tensor {
        var out = [Float](repeating: 0, count: target.elementCount)
        let outer = target[..<ax].reduce(1, *), inner = target[(ax + 1)...].reduce(1, *)
        let run = shape[ax] * inner, rowLength = target[ax] * inner
        if run > 0 && outer > 0 {
            scalars.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for o in 0..<outer {
                        (dst.baseAddress! + o * rowLength + lower * inner).update(from: src.baseAddress! + o * run, count: run)
                    }
                }
            }
        }
        return Tensor(shape: target, scalars: out)
    }

    /// Copies `shape` elements from `src` to `dst`, each side addressed by its own strides.
    ///
    /// Axes contiguous in both are merged first. Then: rows contiguous on both sides are copied
    /// with `memcpy`; a destination row that is strided in the source is filled by a tiled
    /// transpose against the axis the source is contiguous along; anything else element by element.
    static func stridedCopy(_ src: UnsafePointer<Float>, _ srcStrides: [Int],
                            _ dst: UnsafeMutablePointer<Float>, _ dstStrides: [Int], _ fullShape: [Int]) {
        let (shape, strides) = Broadcast.coalesce(fullShape, [srcStrides, dstStrides])
        let ss = strides[0], ds = strides[1]
        let r = shape.count, last = r - 1
        let n = shape[last], sLast = ss[last], dLast = ds[last]

        if sLast == 1 && dLast == 1 {
            // Contiguous runs: walk the outer axes, with the second-innermost in a tight loop.
            if r == 1 { dst.update(from: src, count: n); return }
            let rows = shape[r - 2], sRow = ss[r - 2], dRow = ds[r - 2]
            forEachOffset(Array(shape[..<(r - 2)]), ss, ds) { so, dof in
                for i in 0..<rows { (dst + dof + i * dRow).update(from: src + so + i * sRow, count: n) }
            }
            return
        }
        if dLast == 1, let p = (0..<last).last(where: { ss[$0] == 1 }) {
            // Tiled transpose of the (p, last) plane: reads stay within a tile's cache lines.
            let others = (0..<r).filter { $0 != p && $0 != last }
            let rows = shape[p], dRow = ds[p]
            let tile = 8   // A power-of-two source stride maps a tile's source lines to one 8-way L1 set.
            forEachOffset(others.map { shape[$0] }, others.map { ss[$0] }, others.map { ds[$0] }) { so, dof in
                let s = src + so, d = dst + dof
                for i0 in stride(from: 0, to: rows, by: tile) {
                    let i1 = Swift.min(i0 + tile, rows)
                    for j0 in stride(from: 0, to: n, by: tile) {
                        let j1 = Swift.min(j0 + tile, n)
                        for i in i0..<i1 {
                            let drow = d + i * dRow, srow = s + i
                            for j in j0..<j1 { drow[j] = srow[j * sLast] }
                        }
                    }
                }
            }
            return
        }
        forEachOffset(Array(shape[..<last]), ss, ds) { so, dof in
            let s = src + so, d = dst + dof
            for j in 0..<n { d[j * dLast] = s[j * sLast] }
        }
    }

    /// Calls `body(offsetA, offsetB)` for every multi-index over `extents` (once when empty),
    /// last axis fastest; `stridesA` / `stridesB` give each axis's step on the two sides.
    @inline(__always)
    static func forEachOffset(_ extents: [Int], _ stridesA: [Int], _ stridesB: [Int], _ body: (Int, Int) -> Void) {
        if extents.contains(0) { return }
        var index = [Int](repeating: 0, count: extents.count)
        var offA = 0, offB = 0
        while true {
            body(offA, offB)
            var axis = extents.count - 1
            while axis >= 0 {
                index[axis] += 1
                offA += stridesA[axis]; offB += stridesB[axis]
                if index[axis] < extents[axis] { break }
                offA -= stridesA[axis] * extents[axis]; offB -= stridesB[axis] * extents[axis]
                index[axis] = 0
                axis -= 1
            }
            if axis < 0 { return }
        }
    }
}
