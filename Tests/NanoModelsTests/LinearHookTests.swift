import Testing
import NanoModels
import NanoTensor
import TestSupport

/// Linear's input hooks: the observer sees [rows, in], the transform changes what the product
/// uses, and gradients pass the transform straight through.
@Suite struct LinearHookTests {
    @Test func observerSeesFlattenedRowsAndTransformAppliesWithStraightThroughGradient() {
        var rng = RandomGenerator(seed: 1)
        let layer = Linear(4, 3, rng: &rng)
        let x = rng.normal(shape: [2, 5, 4])
        var seen: [[Int]] = []
        layer.inputObserver = { seen.append($0.shape) }
        layer.inputTransform = { $0.map { ($0 * 2).rounded() / 2 } }   // round to halves
        let tape = Tape()
        let input = Variable(x, requiresGrad: true)
        let y = layer(input, tape: tape)
        #expect(seen == [[10, 4]])
        let expected = Tensor.linear(x.reshaped([10, 4]).map { ($0 * 2).rounded() / 2 }, weight: layer.weight.value,
                                     bias: layer.bias?.value)
        #expect(maxAbsDifference(y.value.reshaped([10, 3]), expected) <= 1e-6)
        tape.backward(from: tape.sum(y))
        // d(sum y)/dx = Σ_out W[out, :] for every row: the transform is skipped (STE).
        let columnSums = (0..<4).map { j in (0..<3).reduce(Float(0)) { $0 + layer.weight.value.scalars[$1 * 4 + j] } }
        let grad = input.grad!.reshaped([10, 4])
        for r in 0..<10 { for j in 0..<4 { #expect(abs(grad.scalars[r * 4 + j] - columnSums[j]) <= 1e-5) } }
        layer.inputObserver = nil
        layer.inputTransform = nil
        let plain = layer(Variable(x), tape: Tape(recording: false)).value.reshaped([10, 3])
        #expect(maxAbsDifference(plain, Tensor.linear(x.reshaped([10, 4]), weight: layer.weight.value, bias: layer.bias?.value)) <= 1e-6)
        #expect(seen.count == 1)
    }
}
