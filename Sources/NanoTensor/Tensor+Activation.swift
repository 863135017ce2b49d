import CSIMDIntrinsics

/// How `gelu` evaluates the Gaussian CDF Φ in x·Φ(x).
public enum GELUApproximation: Sendable, Equatable {
    /// Φ(x) = ½(1 + erf(x/√2)): the exact definition (PyTorch `approximate="none"`, BERT).
    case erf
    /// ½(1 + tanh(√(2/π)·(x + 0.044715x³))) (PyTorch `approximate="tanh"`, GPT-2's `gelu_new`).
    case tanh
}

/// Elementwise activations through `FastMath`, one vectorised pass each.
///
/// Every op has a plain Double counterpart in `Reference` that tests compare against.
extension Tensor {
    /// max(x, 0), elementwise. NaN stays NaN.
    public func relu() -> Tensor {
        unaryKernel { s, d, n in for i in 0..<n { d[i] = Swift.max(s[i], 0) } }
    }

    /// x·Φ(x) (Hendrycks & Gimpel 2016), with Φ evaluated as `approximation` says.
    /// The erf form runs 16 lanes wide under an AVX-512 `KernelSet` (`current`), with the same bits.
    public func gelu(approximation: GELUApproximation = .erf) -> Tensor {
        switch approximation {
        case .erf: return unaryKernel { s, d, n in ActivationMath.geluErf(s, d, n, kernels: .current) }
        case .tanh: return unaryKernel { s, d, n in for i in 0..<n { d[i] = ActivationMath.geluTanh(s[i]) } }
        }
    }

    /// x·σ(x), also called swish.
    public func silu() -> Tensor {
        unaryKernel { s, d, n in for i in 0..<n { d[i] = s[i] * FastMath.sigmoid(s[i]) } }
    }

    /// Hyperbolic tangent, elementwise.
    public func tanh() -> Tensor { unaryKernel { s, d, n in FastMath.tanh(s, d, count: n) } }

    /// The logistic function 1 / (1 + e⁻ˣ), elementwise.
    public func sigmoid() -> Tensor { unaryKernel { s, d, n in FastMath.sigmoid(s, d, count: n) } }

    /// eˣ, elementwise (0 below about -103.9, +∞ above about 88.7).
    public func exp() -> Tensor { unaryKernel { s, d, n in FastMath.exp(s, d, count: n) } }

    /// Natural logarithm, elementwise (-∞ at 0, NaN below 0).
    public func log() -> Tensor { unaryKernel { s, d, n in FastMath.log(s, d, count: n) } }

    // MARK: Derivatives for the backward passes (self is the op's input x, or its output y)

    /// g where x > 0, else 0.
    func reluBackward(_ g: Tensor) -> Tensor {
        binaryKernel(g, "relu backward") { x, g, d, n in for i in 0..<n { d[i] = x[i] > 0 ? g[i] : 0 } }
    }

    /// g·gelu′(x).
    func geluBackward(_ g: Tensor, approximation: GELUApproximation) -> Tensor {
        switch approximation {
        case .erf:
            return binaryKernel(g, "gelu backward") { x, g, d, n in ActivationMath.geluErfBackward(x, g, d, n, kernels: .current) }
        case .tanh:
            return binaryKernel(g, "gelu backward") { x, g, d, n in
                for i in 0..<n { d[i] = g[i] * ActivationMath.geluTanhDerivative(x[i]) }
            }
        }
    }

    /// g·silu′(x) = g·σ(x)(1 + x(1 - σ(x))).
    func siluBackward(_ g: Tensor) -> Tensor {
        binaryKernel(g, "silu backward") { x, g, d, n in
            for i in 0..<n {
                let s = FastMath.sigmoid(x[i])
                d[i] = g[i] * s * (1 + x[i].addingProduct(-x[i], s)) // σ·(1 + x - xσ)
            }
        }
    }

    /// g·(1 - y²) where self is y = tanh(x).
    func tanhBackward(_ g: Tensor) -> Tensor {
        binaryKernel(g, "tanh backward") { y, g, d, n in
            for i in 0..<n { d[i] = g[i] * Float(1).addingProduct(-y[i], y[i]) }
        }
    }

    /// g·y(1 - y) where self is y = σ(x).
    func sigmoidBackward(_ g: Tensor) -> Tensor {
        binaryKernel(g, "sigmoid backward") { y, g, d, n in
            for i in 0..<n { d[i] = g[i] * y[i] * (1 - y[i]) }
        }
    }

    // MARK: Loops

    /// A tensor of this shape written by `body(src, dst, count)`, without zero-filling first.
    @inline(__always)
    func unaryKernel(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let n = count
        let out = [Float](unsafeUninitializedCapacity: n) { dst, initialized in
            scalars.withUnsafeBufferPointer { src in
                if n > 0, let s = src.baseAddress, let d = dst.baseAddress {
                    Parallel.forRanges(n) { r in body(s + r.lowerBound, d + r.lowerBound, r.count) }
                }
            }
            initialized = n
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// A tensor of this shape written by `body(self, other, dst, count)`; `other` has the same shape.
    @inline(__always)
    func binaryKernel(
        _ other: Tensor, _ what: String,
        _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> Tensor {
        precondition(shape == other.shape, "\(what): shapes \(shape) and \(other.shape) differ")
        let n = count
        let out = [Float](unsafeUninitializedCapacity: n) { dst, initialized in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    if n > 0, let pa = a.baseAddress, let pb = b.baseAddress, let d = dst.baseAddress {
                        Parallel.forRanges(n) { r in body(pa + r.lowerBound, pb + r.lowerBound, d + r.lowerBound, r.count) }
                    }
                }
            }
            initialized = n
        }
        return Tensor(shape: shape, scalars: out)
    }
}

/// Scalar activation formulas shared by the forward and backward loops.
enum ActivationMath {
    static let sqrtHalf: Float = 0.707_106_781_186_547_524_4
    static let invSqrt2Pi: Float = 0.398_942_280_401_432_677_9
    static let sqrt2OverPi: Float = 0.797_884_560_802_865_355_9
    static let tanhCubic: Float = 0.044_715

    /// d[i] = geluErf(s[i]); 16 lanes wide under an AVX-512 set (fastmath_kernels.c, the same bits).
    static func geluErf(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int, kernels: KernelSet) {
        if kernels.avx512 { nf_gelu_erf_avx512(s, d, n); return }
        for i in 0..<n { d[i] = geluErf(s[i]) }
    }

    /// d[i] = g[i] · geluErfDerivative(x[i]); 16 lanes wide under an AVX-512 set, the same bits.
    static func geluErfBackward(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int,
                                kernels: KernelSet) {
        if kernels.avx512 { nf_gelu_erf_backward_avx512(x, g, d, n); return }
        for i in 0..<n { d[i] = g[i] * geluErfDerivative(x[i]) }
    }

    @inline(__always) static func geluErf(_ x: Float) -> Float {
        0.5 * x * (1 + FastMath.erf(x * sqrtHalf))
    }

    /// Φ(x) + x·φ(x).
    @inline(__always) static func geluErfDerivative(_ x: Float) -> Float {
        let cdf = 0.5 * (1 + FastMath.erf(x * sqrtHalf))
        let pdf = invSqrt2Pi * FastMath.exp(-0.5 * x * x)
        return cdf.addingProduct(x, pdf)
    }

    @inline(__always) static func geluTanh(_ x: Float) -> Float {
        let u = sqrt2OverPi * x * Float(1).addingProduct(tanhCubic * x, x) // √(2/π)(x + 0.044715x³)
        return 0.5 * x * (1 + FastMath.tanh(u))
    }

    /// ½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²), t = tanh(u).
    @inline(__always) static func geluTanhDerivative(_ x: Float) -> Float {
        let x2 = x * x
        let u = sqrt2OverPi * x * Float(1).addingProduct(tanhCubic, x2)
        let t = FastMath.tanh(u)
        let sech2 = Float(1).addingProduct(-t, t)
        let du = sqrt2OverPi * Float(1).addingProduct(3 * tanhCubic, x2)
        // Once t = ±1 exactly the second term is 0; the select keeps ∞·0 from making NaN at huge |x|.
        let slope = sech2 == 0 ? 0 : 0.5 * x * sech2 * du
        return 0.5 * (1 + t) + slope
    }
}
