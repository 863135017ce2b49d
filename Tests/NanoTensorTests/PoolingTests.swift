import Testing
import NanoTensor
import TestSupport

/// Max, average and global average pooling against the plain-loop `Reference`, with TensorFlow's
/// `same` padding (padding takes no part in a max or an average), and their gradients against
/// central finite differences.
@Suite struct PoolingTests {
    struct Case: Sendable, CustomStringConvertible {
        var shape: [Int], window: (Int, Int), strides: (Int, Int), padding: Padding2D
        var geometry: Conv2DGeometry { Conv2DGeometry(kernel: window, strides: strides, padding: padding) }
        var description: String { "\(shape): \(geometry)" }
    }

    static let cases: [Case] = [
        Case(shape: [1, 4, 4, 1], window: (2, 2), strides: (2, 2), padding: .valid),
        Case(shape: [2, 7, 7, 3], window: (3, 3), strides: (2, 2), padding: .same),    // fer's max pools, odd input
        Case(shape: [2, 8, 6, 5], window: (3, 3), strides: (2, 2), padding: .same),    // even input: pad after only
        Case(shape: [1, 9, 10, 2], window: (3, 2), strides: (1, 1), padding: .same),
        Case(shape: [2, 9, 7, 4], window: (2, 3), strides: (3, 2), padding: .valid),
        Case(shape: [1, 5, 5, 3], window: (4, 4), strides: (1, 1), padding: .same),
    ]

    /// Distinct values (a shuffled ramp, 0.1 apart) so no window has a tied maximum and a
    /// finite-difference step cannot change which element is largest.
    static func distinct(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        var values = (0..<shape.elementCount).map { Float($0) * 0.1 - 2 }
        rng.shuffle(&values)
        return Tensor(shape: shape, scalars: values)
    }

    @Test(arguments: cases)
    func poolsMatchReference(_ c: Case) {
        var rng = RandomGenerator(seed: UInt64(c.shape.elementCount))
        let x = rng.normal(shape: c.shape)
        let maxFast = x.maxPool2d(c.geometry), maxSlow = Reference.pool2d(x, geometry: c.geometry, average: false)
        #expect(maxFast == maxSlow, "\(c): max pooling differs by \(maxAbsDifference(maxFast, maxSlow))")
        let avgFast = x.avgPool2d(c.geometry), avgSlow = Reference.pool2d(x, geometry: c.geometry, average: true)
        #expect(isClose(avgFast, avgSlow, rtol: 1e-5, atol: 1e-6), "\(c): average pooling excess \(closenessExcess(avgFast, avgSlow))")
        #expect(isClose(x.globalAvgPool2d(), Reference.globalAvgPool2d(x), rtol: 1e-5, atol: 1e-6))
    }

    @Test func samePaddingIsExcludedFromTheAverage() {
        // 3×3 window at a corner of a 2×2 input with `same` padding: 4 real inputs, not 9.
        let x = Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4])
        let y = x.avgPool2d(Conv2DGeometry(kernel: (3, 3), padding: .same))
        #expect(y.scalars == [2.5, 2.5, 2.5, 2.5])
        let negative = Tensor(shape: [1, 2, 2, 1], scalars: [-1, -2, -3, -4])
        #expect(negative.maxPool2d(Conv2DGeometry(kernel: (3, 3), padding: .same)).scalars == [-1, -1, -1, -1])
    }

    @Test(arguments: cases)
    func poolGradients(_ c: Case) {
        let x = Self.distinct(c.shape, seed: UInt64(c.shape.elementCount))
        let maxCheck = checkGradients([x], epsilon: 1e-3) { t, v in t.maxPool2d(v[0], geometry: c.geometry) }
        #expect(maxCheck.passed, "max \(c): \(maxCheck)")
        let avgCheck = checkGradients([x], epsilon: 1e-3) { t, v in t.avgPool2d(v[0], geometry: c.geometry) }
        #expect(avgCheck.passed, "avg \(c): \(avgCheck)")
        let globalCheck = checkGradients([x], epsilon: 1e-3) { t, v in t.globalAvgPool2d(v[0]) }
        #expect(globalCheck.passed, "global \(c): \(globalCheck)")
    }
}
