import Testing
import NanoTensor
import TestSupport

@Suite struct GatherTests {
    @Test(arguments: [[0], [2, 0, 2, 1], [4, 4, 4], [], [3, 1, 0, 2, 4, 0]])
    func gatherRowsMatchesReference(indices: [Int]) {
        var rng = RandomGenerator(seed: 20)
        let table = rng.normal(shape: [5, 7])
        let rows = Tensor.gatherRows(table, indices)
        #expect(rows.shape == [indices.count, 7])
        #expect(rows == Reference.gatherRows(table, indices))
    }

    @Test func scatterAddRowsAccumulatesRepeatedIndices() {
        let grad = Tensor(shape: [4, 2], scalars: [1, 2, 10, 20, 100, 200, 1000, 2000])
        let out = Tensor.scatterAddRows(grad, [2, 0, 2, 2], rows: 3)
        #expect(out == Tensor(shape: [3, 2], scalars: [10, 20, 0, 0, 1101, 2202]))
        #expect(Tensor.scatterAddRows(Tensor.zeros([0, 3]), [], rows: 2) == Tensor.zeros([2, 3]))
    }

    /// ⟨gather(T, i), G⟩ = ⟨T, scatterAdd(G, i)⟩: scatter-add is the adjoint of gather.
    @Test func scatterAddIsTheAdjointOfGather() {
        var rng = RandomGenerator(seed: 21)
        let table = rng.normal(shape: [6, 5])
        let indices = (0..<20).map { _ in rng.nextInt(below: 6) }
        let g = rng.normal(shape: [20, 5])
        let lhs = (Tensor.gatherRows(table, indices) * g).sum().scalar
        let rhs = (table * Tensor.scatterAddRows(g, indices, rows: 6)).sum().scalar
        #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
    }

    @Test func gatherRowsRejectsAnOutOfRangeIndex() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.gatherRows(Tensor.zeros([3, 2]), [0, 3])
        }
    }

    @Test func embeddingShapesAndValues() {
        var rng = RandomGenerator(seed: 22)
        let table = rng.normal(shape: [10, 4])
        let ids = [1, 5, 5, 9, 0, 1]
        let tape = Tape()
        let out = tape.embedding(Variable(table, requiresGrad: true), indices: ids, shape: [2, 3])
        #expect(out.shape == [2, 3, 4])
        #expect(out.value.reshaped([6, 4]) == Reference.gatherRows(table, ids))
    }

    @Test func embeddingGradientsWithRepeatedIndices() {
        var rng = RandomGenerator(seed: 23)
        let table = rng.normal(shape: [6, 3])
        let ids = [2, 4, 2, 2, 0, 4, 5, 2]
        let r = checkGradients([table], maxElements: 18) { t, v in t.embedding(v[0], indices: ids, shape: [2, 4]) }
        #expect(r.passed, "\(r)")
        // Row 2 appears four times: with an all-ones upstream gradient it collects 4 per entry.
        let tape = Tape()
        let v = Variable(table, requiresGrad: true)
        tape.backward(from: tape.sum(tape.embedding(v, indices: ids, shape: [8])))
        let expected = Tensor(shape: [6, 3], generating: { i in Float([1, 0, 4, 0, 2, 1][i / 3]) })
        #expect(v.grad == expected)
    }
}
