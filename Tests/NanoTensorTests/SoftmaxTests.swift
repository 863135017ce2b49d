import Testing
import NanoTensor
import TestSupport

/// Softmax and log-softmax: fast kernels against `Reference` on every axis, masking and
/// degenerate rows, and gradients (finite differences, plus the fused backward against the same
/// function composed from primitive tape ops).
@Suite struct SoftmaxTests {
    static let shapes: [[Int]] = [[1], [9], [3, 17], [4, 5, 33], [2, 3, 4, 65]]
    static let seeds: [UInt64] = [1, 2]

    @Test(arguments: shapes, seeds)
    func matchesReferenceOnEveryAxis(shape: [Int], seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let x = rng.normal(shape: shape, std: 5)
        for axis in -shape.count..<shape.count {
            // Measured: softmax 2.4e-7 absolute; relative error reaches 1.2e-6 only for p < 1e-5,
            // where rounding x - max to Float already costs |x - max|·2⁻²⁴ (exp's condition number).
            // logSoftmax: 5.4e-7 absolute where |x - max| ≫ |y| (rounding x - max), 1.1e-7 relative
            // for large |y|.
            let p = x.softmax(axis: axis), lp = x.logSoftmax(axis: axis)
            let ref = Reference.softmax(x, axis: axis), logRef = Reference.logSoftmax(x, axis: axis)
            #expect(isClose(p, ref, rtol: 4e-7, atol: 1e-8),
                    "softmax axis \(axis): \(closenessExcess(p, ref, rtol: 4e-7, atol: 1e-8))")
            #expect(isClose(lp, logRef, rtol: 2e-7, atol: 6e-7),
                    "logSoftmax axis \(axis): \(closenessExcess(lp, logRef, rtol: 2e-7, atol: 6e-7))")
        }
    }

    @Test func largeLogitsAreStable() {
        let x = Tensor(shape: [2, 3], scalars: [1000, 1001, 1002, -1000, -1001, -1002])
        let p = x.softmax()
        #expect(isClose(p, Reference.softmax(x), rtol: 3e-7, atol: 0))
        #expect(isClose(x.logSoftmax(), Reference.logSoftmax(x), rtol: 0, atol: 3e-7))
    }

    @Test func maskedEntriesGetZeroProbability() {
        // Attention scores with -1e9 added at masked keys; row 2 keeps a single key.
        var x = Tensor(shape: [3, 6], scalars: (0..<18).map { Float($0 % 5) * 0.7 })
        for (r, c) in [(0, 3), (0, 4), (1, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)] { x[r, c] -= 1e9 }
        let p = x.softmax(), lp = x.logSoftmax()
        #expect(isClose(p, Reference.softmax(x), rtol: 3e-7, atol: 1e-30))
        #expect(p[0, 3] == 0 && p[0, 4] == 0 && p[2, 0] == 1)
        #expect(lp.scalars.allSatisfy { $0.isFinite } && lp[2, 0] == 0)
        // The same scores transposed, normalised along axis 0 (the column kernel).
        let xT = Tensor(shape: [6, 3]) { x[$0 % 3, $0 / 3] }
        let pT = xT.softmax(axis: 0)
        #expect(pT == Tensor(shape: [6, 3]) { p[$0 % 3, $0 / 3] })
        #expect(isClose(xT.logSoftmax(axis: 0), Reference.logSoftmax(xT, axis: 0), rtol: 2e-7, atol: 6e-7))
    }

    /// A slice of all -∞ has no softmax; it comes out NaN (documented), other slices are unaffected.
    @Test func allMinusInfinitySliceIsNaNWithoutTrapping() {
        let x = Tensor(shape: [2, 3], scalars: [-.infinity, -.infinity, -.infinity, 0, 1, 2])
        let finiteRow = Reference.softmax(Tensor(shape: [3], scalars: [0, 1, 2]))
        let p = x.softmax(), lp = x.logSoftmax()
        #expect(p.scalars[0..<3].allSatisfy { $0.isNaN } && lp.scalars[0..<3].allSatisfy { $0.isNaN })
        #expect(isClose(Tensor(shape: [3], scalars: Array(p.scalars[3...])), finiteRow, rtol: 3e-7))
        let columns = Tensor(shape: [3, 2]) { x.scalars[($0 % 2) * 3 + $0 / 2] }.softmax(axis: 0)
        #expect(columns.scalars.enumerated().allSatisfy { $0.offset % 2 == 0 ? $0.element.isNaN : !$0.element.isNaN })
    }

    @Test func emptyAxisGivesEmptyResult() {
        #expect(Tensor.zeros([3, 0]).softmax().shape == [3, 0])
        #expect(Tensor.zeros([0, 4]).logSoftmax(axis: 0).shape == [0, 4])
    }

    @Test(arguments: [-1, 0, 1])
    func gradients(axis: Int) {
        var rng = RandomGenerator(seed: 21)
        let x = rng.normal(shape: [3, 4, 5])
        let soft = checkGradients([x]) { t, v in t.softmax(v[0], axis: axis) }
        let logSoft = checkGradients([x]) { t, v in t.logSoftmax(v[0], axis: axis) }
        #expect(soft.passed, "softmax axis \(axis): \(soft)")
        #expect(logSoft.passed, "logSoftmax axis \(axis): \(logSoft)")
    }

    /// The fused backward against softmax composed from primitive ops (exp, max, sum, div), whose
    /// gradients are independent of it. Measured worst difference: 1.2e-6 (softmax) and 5.7e-6
    /// on gradients up to 10 (logSoftmax), mostly the composition's own rounding.
    @Test(arguments: [-1, 0, 2])
    func fusedBackwardMatchesComposition(axis: Int) {
        var rng = RandomGenerator(seed: 22)
        let x = rng.normal(shape: [6, 7, 37], std: 3), seed = rng.normal(shape: [6, 7, 37])
        func grad(_ f: (Tape, Variable) -> Variable) -> Tensor {
            let tape = Tape(), v = Variable(x, requiresGrad: true)
            tape.backward(from: f(tape, v), seed: seed)
            return v.grad ?? Tensor.zeros(x.shape)
        }
        func composedLogits(_ t: Tape, _ v: Variable) -> Variable {
            t.sub(v, t.constant(x.max(axis: axis, keepDims: true)))
        }
        let fused = grad { t, v in t.softmax(v, axis: axis) }
        let composed = grad { t, v in
            let e = t.exp(composedLogits(t, v))
            return t.div(e, t.sum(e, axes: [axis], keepDims: true))
        }
        #expect(isClose(fused, composed, rtol: 1e-5, atol: 1e-6), "\(closenessExcess(fused, composed, rtol: 1e-5, atol: 1e-6))")
        let fusedLog = grad { t, v in t.logSoftmax(v, axis: axis) }
        let composedLog = grad { t, v in
            let z = composedLogits(t, v)
            return t.sub(z, t.log(t.sum(t.exp(z), axes: [axis], keepDims: true)))
        }
        #expect(isClose(fusedLog, composedLog, rtol: 1e-5, atol: 1e-6),
                "\(closenessExcess(fusedLog, composedLog, rtol: 1e-5, atol: 1e-6))")
    }
}
