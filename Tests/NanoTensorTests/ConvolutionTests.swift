import Testing
import NanoTensor
import TestSupport

/// conv2d and depthwise conv2d: the fast kernels (im2col + sgemm, the direct depthwise loop)
/// against the plain-loop `Reference` on random shapes, TensorFlow's `same` padding split, and
/// the backward against central finite differences.
@Suite struct ConvolutionTests {
    struct Case: Sendable, CustomStringConvertible {
        var n: Int, h: Int, w: Int, c: Int, out: Int
        var kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int), padding: Padding2D
        var geometry: Conv2DGeometry { Conv2DGeometry(kernel: kernel, strides: strides, dilation: dilation, padding: padding) }
        var description: String { "x[\(n),\(h),\(w),\(c)] → \(out): \(geometry)" }
    }

    static let cases: [Case] = [
        Case(n: 1, h: 5, w: 5, c: 1, out: 1, kernel: (3, 3), strides: (1, 1), dilation: (1, 1), padding: .valid),
        Case(n: 2, h: 7, w: 6, c: 3, out: 5, kernel: (3, 3), strides: (1, 1), dilation: (1, 1), padding: .same),
        Case(n: 2, h: 9, w: 8, c: 4, out: 3, kernel: (3, 3), strides: (2, 2), dilation: (1, 1), padding: .same),
        Case(n: 1, h: 8, w: 9, c: 2, out: 6, kernel: (3, 3), strides: (2, 2), dilation: (1, 1), padding: .valid),
        Case(n: 2, h: 11, w: 10, c: 3, out: 4, kernel: (3, 3), strides: (1, 1), dilation: (2, 2), padding: .same),
        Case(n: 1, h: 10, w: 11, c: 2, out: 3, kernel: (3, 2), strides: (1, 1), dilation: (2, 2), padding: .valid),
        Case(n: 2, h: 6, w: 7, c: 5, out: 7, kernel: (2, 4), strides: (2, 1), dilation: (1, 1), padding: .same),
        Case(n: 3, h: 6, w: 6, c: 8, out: 16, kernel: (1, 1), strides: (1, 1), dilation: (1, 1), padding: .same),  // direct path
        Case(n: 2, h: 7, w: 7, c: 8, out: 16, kernel: (1, 1), strides: (2, 2), dilation: (1, 1), padding: .same),  // fer's shortcut convs
        Case(n: 1, h: 13, w: 17, c: 9, out: 33, kernel: (5, 5), strides: (3, 2), dilation: (1, 1), padding: .same),
        Case(n: 1, h: 2, w: 3, c: 2, out: 2, kernel: (3, 3), strides: (1, 1), dilation: (1, 1), padding: .valid),  // empty output
    ]

    @Test func samePaddingSplitsAsTensorFlow() {
        // TF: out = ⌈in/s⌉, total = max((out-1)·s + (k-1)·d + 1 - in, 0), the smaller half before.
        let g = Conv2DGeometry(kernel: (3, 3), strides: (2, 2), padding: .same)
        #expect(g.rows(6).output == 3 && g.rows(6).padBefore == 0)  // total 1: 0 before, 1 after
        #expect(g.rows(5).output == 3 && g.rows(5).padBefore == 1)  // total 2
        #expect(g.rows(64).output == 32 && g.rows(64).padBefore == 0)                                       // fer's max pools
        let even = Conv2DGeometry(kernel: (4, 2), padding: .same)
        #expect(even.rows(10).padBefore == 1 && even.columns(10).padBefore == 0)                           // totals 3 and 1
        let dilated = Conv2DGeometry(kernel: (3, 3), dilation: (2, 2), padding: .same)
        #expect(dilated.rows(9).padBefore == 2 && dilated.rows(9).output == 9)                             // span 5, total 4
        let valid = Conv2DGeometry(kernel: (3, 3), strides: (2, 2), dilation: (2, 2), padding: .valid)
        #expect(valid.rows(9).output == 3 && valid.rows(4).output == 0)                                     // (9-5)/2+1; span 5 > 4
        #expect(Conv2DGeometry(kernel: (1, 1), strides: (2, 2), padding: .same).rows(62).output == 31)
    }

    @Test(arguments: cases)
    func conv2dMatchesReference(_ c: Case) {
        var rng = RandomGenerator(seed: UInt64(c.h * 100 + c.w * 10 + c.out))
        let x = rng.normal(shape: [c.n, c.h, c.w, c.c])
        let k = rng.normal(shape: [c.kernel.0, c.kernel.1, c.c, c.out])
        let b = rng.normal(shape: [c.out])
        for bias in [nil, b] {
            let fast = Tensor.conv2d(x, kernel: k, bias: bias, geometry: c.geometry)
            let slow = Reference.conv2d(x, kernel: k, bias: bias, geometry: c.geometry)
            #expect(isClose(fast, slow, rtol: 1e-4, atol: 1e-4), "\(c): excess \(closenessExcess(fast, slow, rtol: 1e-4, atol: 1e-4))")
        }
    }

    @Test(arguments: cases, [1, 2])
    func depthwiseMatchesReference(_ c: Case, _ multiplier: Int) {
        var rng = RandomGenerator(seed: UInt64(c.h * 100 + c.w * 10 + multiplier))
        let x = rng.normal(shape: [c.n, c.h, c.w, c.c])
        let k = rng.normal(shape: [c.kernel.0, c.kernel.1, c.c, multiplier])
        let b = rng.normal(shape: [c.c * multiplier])
        for bias in [nil, b] {
            let fast = Tensor.depthwiseConv2d(x, kernel: k, bias: bias, geometry: c.geometry)
            let slow = Reference.depthwiseConv2d(x, kernel: k, bias: bias, geometry: c.geometry)
            #expect(isClose(fast, slow, rtol: 1e-5, atol: 1e-5), "\(c) ×\(multiplier): excess \(closenessExcess(fast, slow, rtol: 1e-5, atol: 1e-5))")
        }
    }

    /// A small subset for the finite-difference checks (each probes up to 64 elements per input).
    static let gradientCases = [cases[1], cases[2], cases[4], cases[5], cases[6], cases[8]]

    @Test(arguments: gradientCases)
    func conv2dGradients(_ c: Case) {
        var rng = RandomGenerator(seed: UInt64(c.h * 7 + c.w))
        let x = rng.normal(shape: [c.n, c.h, c.w, c.c])
        let k = rng.normal(shape: [c.kernel.0, c.kernel.1, c.c, c.out], std: 0.5)
        let b = rng.normal(shape: [c.out])
        let r = checkGradients([x, k, b]) { t, v in t.conv2d(v[0], kernel: v[1], bias: v[2], geometry: c.geometry) }
        #expect(r.passed, "\(c): \(r)")
    }

    @Test(arguments: gradientCases, [1, 3])
    func depthwiseGradients(_ c: Case, _ multiplier: Int) {
        var rng = RandomGenerator(seed: UInt64(c.h * 7 + c.w + multiplier))
        let x = rng.normal(shape: [c.n, c.h, c.w, c.c])
        let k = rng.normal(shape: [c.kernel.0, c.kernel.1, c.c, multiplier], std: 0.5)
        let b = rng.normal(shape: [c.c * multiplier])
        let r = checkGradients([x, k, b]) { t, v in t.depthwiseConv2d(v[0], kernel: v[1], bias: v[2], geometry: c.geometry) }
        #expect(r.passed, "\(c) ×\(multiplier): \(r)")
    }

    @Test func gradientsSkipInputsThatNeedNone() {
        var rng = RandomGenerator(seed: 9)
        let x = rng.normal(shape: [1, 5, 5, 2]), k = rng.normal(shape: [3, 3, 2, 4])
        let g = Conv2DGeometry(kernel: (3, 3), padding: .same)
        let grad = rng.normal(shape: [1, 5, 5, 4])
        let only = Tensor.conv2dBackward(x, kernel: k, grad: grad, geometry: g, needsInput: false, needsKernel: true)
        let both = Tensor.conv2dBackward(x, kernel: k, grad: grad, geometry: g)
        #expect(only.input == nil && only.kernel == both.kernel)
    }
}
