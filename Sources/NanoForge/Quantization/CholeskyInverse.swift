import CBLAS

/// The factorization GPTQ needs: the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), for a
/// symmetric positive-definite H. Row i of U holds the error-propagation coefficients of column
/// i onto the columns after it (Frantar et al. 2022, §"Cholesky Reformulation").
///
/// The fast path calls LAPACK (`dpotrf_`, `dpotri_`, `dpotrf_` again, from OpenBLAS) in Double;
/// `reference` is the same in plain loops, for tests.
enum CholeskyInverse {
    /// U, [n, n] row-major with zeros below the diagonal; nil when H is not positive definite.
    static func upperFactorOfInverse(_ h: [Double], n: Int) -> [Double]? {
        precondition(h.count == n * n, "CholeskyInverse: \(h.count) values for [\(n), \(n)]")
        // LAPACK is column-major; H is symmetric, so a row-major buffer reads the same. The
        // column-major lower triangle is the row-major upper triangle.
        var a = h
        var info: Int32 = 0
        var size = Int32(n)
        var uplo = CChar(UInt8(ascii: "L"))
        a.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            dpotrf_(&uplo, &size, base, &size, &info, 1)                // H = L·Lᵀ
            if info == 0 { dpotri_(&uplo, &size, base, &size, &info, 1) } // H⁻¹ (lower, column-major)
        }
        guard info == 0 else { return nil }
        // Mirror the column-major lower triangle (row-major upper, j ≥ i) into the other half.
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { a[j * n + i] = a[i * n + j] } }
        a.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            dpotrf_(&uplo, &size, base, &size, &info, 1)                // H⁻¹ = L·Lᵀ, Lᵀ = U
        }
        guard info == 0 else { return nil }
        // Column-major L read row-major is U; clear the stale entries below the diagonal.
        for i in 0..<n { for j in 0..<i { a[i * n + j] = 0 } }
        return a
    }

    /// The same in plain loops: Cholesky, inverse through triangular solves, Cholesky again.
    static func reference(_ h: [Double], n: Int) -> [Double]? {
        guard let l = lowerCholesky(h, n: n) else { return nil }
        // L⁻¹ by forward substitution, then H⁻¹ = L⁻ᵀ·L⁻¹.
        var li = [Double](repeating: 0, count: n * n)
        for c in 0..<n {
            for i in c..<n {
                var s: Double = i == c ? 1 : 0
                for k in c..<i { s -= l[i * n + k] * li[k * n + c] }
                li[i * n + c] = s / l[i * n + i]
            }
        }
        var inverse = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s: Double = 0
            for k in max(i, j)..<n { s += li[k * n + i] * li[k * n + j] }
            inverse[i * n + j] = s
        } }
        guard let l2 = lowerCholesky(inverse, n: n) else { return nil }
        var u = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { u[i * n + j] = l2[j * n + i] } }
        return u
    }

    /// L with H = L·Lᵀ, or nil when a pivot is not positive.
    static func lowerCholesky(_ h: [Double], n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var d = h[j * n + j]
            for k in 0..<j { d -= l[j * n + k] * l[j * n + k] }
            guard d > 0 else { return nil }
            let pivot = d.squareRoot()
            l[j * n + j] = pivot
            for i in (j + 1)..<max(j + 1, n) {
                var s = h[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / pivot
            }
        }
        return l
    }
}
