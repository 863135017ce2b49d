import Testing
import NanoTensor
import TestSupport

@Suite struct AutodiffCoreTests {
    @Test func broadcastArithmeticGradients() {
        var rng = RandomGenerator(seed: 3)
        let a = rng.normal(shape: [2, 3, 4]), b = rng.normal(shape: [3, 1]), c = rng.uniform(shape: [4], low: 0.5, high: 2)
        let r = checkGradients([a, b, c]) { t, v in
            t.div(t.mul(t.sub(t.add(v[0], v[1]), v[2]), v[1]), v[2])
        }
        #expect(r.passed, "\(r)")
    }

    @Test func matmulGradientsAllTransposes() {
        var rng = RandomGenerator(seed: 4)
        for ta in [false, true] {
            for tb in [false, true] {
                let a = rng.normal(shape: ta ? [2, 5, 3] : [2, 3, 5])
                let b = rng.normal(shape: tb ? [4, 5] : [5, 4])
                let r = checkGradients([a, b]) { t, v in t.matmul(v[0], v[1], transposeA: ta, transposeB: tb) }
                #expect(r.passed, "transposeA \(ta) transposeB \(tb): \(r)")
            }
        }
    }

    @Test func reductionGradients() {
        var rng = RandomGenerator(seed: 5)
        let a = rng.normal(shape: [3, 4, 5])
        #expect(checkGradients([a]) { t, v in t.sum(v[0], axes: [0, 2]) }.passed)
        #expect(checkGradients([a]) { t, v in t.mean(v[0], axes: [1], keepDims: true) }.passed)
        #expect(checkGradients([a]) { t, v in t.max(v[0], axis: -1) }.passed)
    }

    @Test func valueUsedTwiceAccumulates() {
        // d/dx (x·x + x) = 2x + 1
        let tape = Tape()
        let x = Variable(Tensor(shape: [3], scalars: [1, -2, 0.5]), requiresGrad: true)
        let y = tape.sum(tape.add(tape.mul(x, x), x))
        tape.backward(from: y)
        #expect(x.grad == Tensor(shape: [3], scalars: [3, -3, 2]))
    }

    @Test func inferenceTapeRecordsNothing() {
        let tape = Tape(recording: false)
        let x = Variable(Tensor.ones([2, 2]), requiresGrad: true)
        let y = tape.matmul(x, x)
        #expect(tape.count == 0)
        #expect(!y.requiresGrad)
    }

    @Test(arguments: [true, false])
    func linearGradientsWithLeadingAxes(bias: Bool) {
        var rng = RandomGenerator(seed: 6)
        let x = rng.normal(shape: [2, 3, 5]), w = rng.normal(shape: [4, 5]), b = rng.normal(shape: [4])
        let r = checkGradients(bias ? [x, w, b] : [x, w]) { t, v in t.linear(v[0], weight: v[1], bias: bias ? v[2] : nil) }
        #expect(r.passed, "\(r)")
        let y = Tensor.linear(x.reshaped([6, 5]), weight: w, bias: bias ? b : nil)
        var expected = Reference.matmul(x.reshaped([6, 5]), w, transposeA: false, transposeB: true)
        if bias { expected = expected + b }
        #expect(isClose(y, expected, rtol: 1e-5, atol: 1e-5))
    }
}
