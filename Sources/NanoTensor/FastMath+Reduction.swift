/// Row reductions with explicit SIMD accumulators.
///
/// LLVM does not vectorise a Float sum or max loop by itself (that would reassociate the
/// additions), so these keep two SIMD8 accumulators, which also shortens the dependency chain.
/// Summing in 16 interleaved partial sums is at least as accurate as a sequential Float sum.
extension FastMath {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vector {
        UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self)
    }

    /// Σ p[i] over 0..<n.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, count n: Int) -> Float {
        var a0 = Vector(), a1 = Vector()
        var i = 0
        while i + 16 <= n {
            a0 = a0 + load(p, i)
            a1 = a1 + load(p, i + 8)
            i += 16
        }
        if i + 8 <= n { a0 = a0 + load(p, i); i += 8 }
        var s = (a0 + a1).sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// max p[i] over 0..<n. NaN elements are ignored; an empty or all-NaN row gives -∞.
    @inline(__always)
    static func max(_ p: UnsafePointer<Float>, count n: Int) -> Float {
        var m0 = Vector(repeating: -.infinity), m1 = m0
        var i = 0
        while i + 16 <= n {
            let v0 = load(p, i), v1 = load(p, i + 8)
            m0.replace(with: v0, where: v0 .> m0)
            m1.replace(with: v1, where: v1 .> m1)
            i += 16
        }
        if i + 8 <= n { let v = load(p, i); m0.replace(with: v, where: v .> m0); i += 8 }
        m0.replace(with: m1, where: m1 .> m0)
        var m = m0.max()
        while i < n { if p[i] > m { m = p[i] }; i += 1 }
        return m
    }

    /// (Σ (p[i] - c), Σ (p[i] - c)²) over 0..<n: the second pass of a two-pass variance.
    @inline(__always)
    static func deviationSums(_ p: UnsafePointer<Float>, from c: Float, count n: Int) -> (sum: Float, sumOfSquares: Float) {
        var s0 = Vector(), s1 = Vector(), q0 = Vector(), q1 = Vector()
        let vc = Vector(repeating: c)
        var i = 0
        while i + 16 <= n {
            let d0 = load(p, i) - vc, d1 = load(p, i + 8) - vc
            s0 = s0 + d0; s1 = s1 + d1
            q0 = q0.addingProduct(d0, d0); q1 = q1.addingProduct(d1, d1)
            i += 16
        }
        if i + 8 <= n { let d = load(p, i) - vc; s0 = s0 + d; q0 = q0.addingProduct(d, d); i += 8 }
        var s = (s0 + s1).sum(), q = (q0 + q1).sum()
        while i < n { let d = p[i] - c; s += d; q = q.addingProduct(d, d); i += 1 }
        return (s, q)
    }

    /// Σ p[i]·q[i] over 0..<n.
    @inline(__always)
    static func dot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, count n: Int) -> Float {
        var a0 = Vector(), a1 = Vector()
        var i = 0
        while i + 16 <= n {
            a0 = a0.addingProduct(load(p, i), load(q, i))
            a1 = a1.addingProduct(load(p, i + 8), load(q, i + 8))
            i += 16
        }
        if i + 8 <= n { a0 = a0.addingProduct(load(p, i), load(q, i)); i += 8 }
        var s = (a0 + a1).sum()
        while i < n { s = s.addingProduct(p[i], q[i]); i += 1 }
        return s
    }
}
