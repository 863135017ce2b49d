import CSIMDIntrinsics

/// Softmax and log-softmax along one axis, numerically stable.
///
/// Both subtract the maximum along the axis before exponentiating, so no exponent overflows, and
/// masked entries (for example -1e9 added to attention scores) contribute exactly 0. A slice whose
/// entries are all -∞ has no defined softmax: it comes out as NaN (the maximum is -∞ and
/// -∞ - (-∞) is NaN), as in PyTorch; nothing traps.
///
/// The tensor is viewed as [outer, n, inner] around the axis. For the last axis (inner = 1) each
/// row is contiguous and is handled by row kernels with SIMD reductions; otherwise each [n, inner]
/// block is processed with vectorised loops over the contiguous inner extent, so no transpose
/// is needed.
extension Tensor {
    /// eˣ / Σ eˣ along `axis` (negative counts from the end).
    public func softmax(axis: Int = -1) -> Tensor {
        alongAxis(axis, self, "softmax", row: SoftmaxKernels.softmaxRow, columns: SoftmaxKernels.softmaxColumns)
    }

    /// x - log Σ eˣ along `axis` (negative counts from the end), without forming the softmax.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        alongAxis(axis, self, "logSoftmax", row: SoftmaxKernels.logSoftmaxRow, columns: SoftmaxKernels.logSoftmaxColumns)
    }

    /// dx = y ⊙ (g - Σ g⊙y) along `axis`, where self is y = softmax(x).
    func softmaxBackward(_ g: Tensor, axis: Int) -> Tensor {
        alongAxis(axis, g, "softmax backward", row: SoftmaxKernels.softmaxBackwardRow,
                  columns: SoftmaxKernels.softmaxBackwardColumns)
    }

    /// dx = g - eʸ ⊙ Σ g along `axis`, where self is y = logSoftmax(x).
    func logSoftmaxBackward(_ g: Tensor, axis: Int) -> Tensor {
        alongAxis(axis, g, "logSoftmax backward", row: SoftmaxKernels.logSoftmaxBackwardRow,
                  columns: SoftmaxKernels.logSoftmaxBackwardColumns)
    }

    typealias RowKernel = (_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                           _ n: Int) -> Void
    typealias ColumnKernel = (_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                              _ n: Int, _ inner: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void

    /// Runs `row` on each contiguous slice along the last axis, or `columns` on each [n, inner]
    /// block, reading self and `other` (same shape) and writing a new tensor.
    @inline(__always)
    private func alongAxis(_ axis: Int, _ other: Tensor, _ what: String, row: RowKernel, columns: ColumnKernel) -> Tensor {
        precondition(rank >= 1, "\(what): needs a tensor of rank ≥ 1, got shape \(shape)")
        precondition(shape == other.shape, "\(what): shapes \(shape) and \(other.shape) differ")
        let (outer, n, inner) = split(around: normalizedAxis(axis))
        let total = count
        var scratch = [Float](repeating: 0, count: inner == 1 ? 0 : 2 * inner)
        let out = [Float](unsafeUninitializedCapacity: total) { dst, initialized in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    scratch.withUnsafeMutableBufferPointer { s in
                        guard total > 0, let pa = a.baseAddress, let pb = b.baseAddress, let po = dst.baseAddress
                        else { return }
                        let block = n * inner
                        if inner == 1 {
                            // Rows are independent: split them across cores.
                            Parallel.forRanges(outer, grain: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { rows in
                                for o in rows { row(pa + o * n, pb + o * n, po + o * n, n) }
                            }
                        } else if let ps = s.baseAddress {
                            for o in 0..<outer { columns(pa + o * block, pb + o * block, po + o * block, n, inner, ps) }
                        }
                    }
                }
            }
            initialized = total
        }
        return Tensor(shape: shape, scalars: out)
    }
}

/// The per-slice loops. Row kernels see one contiguous slice of n; column kernels see an
/// [n, inner] block and reduce over n for every inner index at once (scratch holds 2·inner).
enum SoftmaxKernels {
    /// e^(x − m) for a row: 16 lanes wide under an AVX-512 `KernelSet` (the same bits).
    @inline(__always)
    static func shiftedExp(_ x: UnsafePointer<Float>, _ m: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                           kernels: KernelSet = .current) {
        if kernels.avx512 { nf_exp_shifted_avx512(x, m, y, n); return }
        for i in 0..<n { y[i] = FastMath.exp(x[i] - m) }
    }

    static func softmaxRow(_ x: UnsafePointer<Float>, _: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = FastMath.max(x, count: n)
        shiftedExp(x, m, y, n)
        // The sum is ≥ 1 (the maximal entry contributes e⁰), so the reciprocal is safe.
        let r = 1 / FastMath.sum(y, count: n)
        for i in 0..<n { y[i] *= r }
    }

    static func logSoftmaxRow(_ x: UnsafePointer<Float>, _: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let m = FastMath.max(x, count: n)
        shiftedExp(x, m, y, n)
        let logSum = FastMath.log(FastMath.sum(y, count: n))
        // (x - m) - log Σ rather than x - (m + log Σ): exact near the maximum even when |m| is large.
        for i in 0..<n { y[i] = (x[i] - m) - logSum }
    }

    static func softmaxColumns(_ x: UnsafePointer<Float>, _: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               _ n: Int, _ inner: Int, _ scratch: UnsafeMutablePointer<Float>) {
        let m = scratch, s = scratch + inner
        columnMax(x, n, inner, m)
        for j in 0..<inner { s[j] = 0 }
        for i in 0..<n {
            let xi = x + i * inner, yi = y + i * inner
            for j in 0..<inner { let e = FastMath.exp(xi[j] - m[j]); yi[j] = e; s[j] += e }
        }
        for j in 0..<inner { s[j] = 1 / s[j] }
        for i in 0..<n {
            let yi = y + i * inner
            for j in 0..<inner { yi[j] *= s[j] }
        }
    }

    static func logSoftmaxColumns(_ x: UnsafePointer<Float>, _: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                  _ n: Int, _ inner: Int, _ scratch: UnsafeMutablePointer<Float>) {
        let m = scratch, s = scratch + inner
        columnMax(x, n, inner, m)
        for j in 0..<inner { s[j] = 0 }
        for i in 0..<n {
            let xi = x + i * inner
            for j in 0..<inner { s[j] += FastMath.exp(xi[j] - m[j]) }
        }
        for j in 0..<inner { s[j] = FastMath.log(s[j]) }
        for i in 0..<n {
            let xi = x + i * inner, yi = y + i * inner
            for j in 0..<inner { yi[j] = (xi[j] - m[j]) - s[j] }
        }
    }

    /// m[j] = max over i of x[i, j], ignoring NaN (a NaN still poisons the slice through exp).
    @inline(__always)
    static func columnMax(_ x: UnsafePointer<Float>, _ n: Int, _ inner: Int, _ m: UnsafeMutablePointer<Float>) {
        for j in 0..<inner { m[j] = -.infinity }
        for i in 0..<n {
            let xi = x + i * inner
            for j in 0..<inner { m[j] = xi[j] > m[j] ? xi[j] : m[j] }
        }
    }

    static func softmaxBackwardRow(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                   _ n: Int) {
        let d = FastMath.dot(g, y, count: n)
        for i in 0..<n { dx[i] = y[i] * (g[i] - d) }
    }

    static func logSoftmaxBackwardRow(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                      _ n: Int) {
        let sg = FastMath.sum(g, count: n)
        for i in 0..<n { dx[i] = g[i].addingProduct(-FastMath.exp(y[i]), sg) }
    }

    static func softmaxBackwardColumns(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                       _ n: Int, _ inner: Int, _ scratch: UnsafeMutablePointer<Float>) {
        let d = scratch
        for j in 0..<inner { d[j] = 0 }
        for i in 0..<n {
            let yi = y + i * inner, gi = g + i * inner
            for j in 0..<inner { d[j] = d[j].addingProduct(gi[j], yi[j]) }
        }
        for i in 0..<n {
            let yi = y + i * inner, gi = g + i * inner, dxi = dx + i * inner
            for j in 0..<inner { dxi[j] = yi[j] * (gi[j] - d[j]) }
        }
    }

    static func logSoftmaxBackwardColumns(_ y: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>,
                                          _ n: Int, _ inner: Int, _ scratch: UnsafeMutablePointer<Float>) {
        let sg = scratch
        for j in 0..<inner { sg[j] = 0 }
        for i in 0..<n {
            let gi = g + i * inner
            for j in 0..<inner { sg[j] += gi[j] }
        }
        for i in 0..<n {
            let yi = y + i * inner, gi = g + i * inner, dxi = dx + i * inner
            for j in 0..<inner { dxi[j] = gi[j].addingProduct(-FastMath.exp(yi[j]), sg[j]) }
        }
    }
}
