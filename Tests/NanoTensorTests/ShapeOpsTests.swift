import Testing
import NanoTensor
import TestSupport

@Suite struct ShapeOpsTests {
    static func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    static let permuteShapes: [[Int]] = [
        [5], [3, 4], [1, 7], [17, 33], [40, 3], [2, 3, 4], [4, 1, 5], [1, 1, 6], [2, 3, 4, 5], [3, 1, 2, 1], [2, 5, 3, 64],
    ]

    @Test(arguments: permuteShapes)
    func permutedMatchesReferenceForEveryPermutation(shape: [Int]) {
        var rng = RandomGenerator(seed: UInt64(shape.elementCount))
        let x = rng.normal(shape: shape)
        for perm in Self.permutations(shape.count) {
            #expect(x.permuted(perm) == Reference.permute(x, perm), "shape \(shape) perm \(perm)")
        }
    }

    @Test func permutedHandlesRankFiveAndNegativeAxes() {
        var rng = RandomGenerator(seed: 7)
        let x = rng.normal(shape: [2, 3, 1, 4, 5])
        for perm in [[4, 3, 2, 1, 0], [0, 2, 4, 1, 3], [1, 0, 2, 4, 3], [3, 4, 0, 1, 2]] {
            #expect(x.permuted(perm) == Reference.permute(x, perm), "perm \(perm)")
        }
        #expect(x.permuted([0, 1, 2, -1, -2]) == x.permuted([0, 1, 2, 4, 3]))
        #expect(x.permuted([0, 1, 2, 3, 4]) == x)
    }

    /// The attention hot case: [B, T, H, D] ↔ [B, H, T, D] with D = 64, and a large 2-D transpose
    /// whose extents are not multiples of the tile.
    @Test func permutedHotCasesRoundTrip() {
        var rng = RandomGenerator(seed: 8)
        let x = rng.normal(shape: [3, 37, 4, 64])
        let y = x.permuted([0, 2, 1, 3])
        #expect(y.shape == [3, 4, 37, 64])
        #expect(y == Reference.permute(x, [0, 2, 1, 3]))
        #expect(y.permuted([0, 2, 1, 3]) == x)
        let m = rng.normal(shape: [131, 77])
        #expect(m.transposed() == Reference.permute(m, [1, 0]))
        #expect(m.transposed().transposed() == m)
    }

    @Test func permutedEmptyAndScalar() {
        let e = Tensor.zeros([2, 0, 3])
        #expect(e.permuted([2, 0, 1]).shape == [3, 2, 0])
        let s = Tensor(scalar: 4)
        #expect(s.permuted([]) == s)
    }

    @Test func transposedDefaultsToLastTwoAxes() {
        var rng = RandomGenerator(seed: 9)
        let x = rng.normal(shape: [2, 3, 4])
        #expect(x.transposed() == Reference.permute(x, [0, 2, 1]))
        #expect(x.transposed(0, 2) == Reference.permute(x, [2, 1, 0]))
        #expect(x.transposed(-3, 1) == Reference.permute(x, [1, 0, 2]))
    }

    @Test(arguments: [0, 1, 2, -1, -3])
    func concatMatchesReference(axis: Int) {
        var rng = RandomGenerator(seed: 10 + UInt64(axis + 3))
        let ax = axis < 0 ? axis + 3 : axis
        let extents = [2, 0, 3, 1]
        let parts = extents.map { e -> Tensor in
            var shape = [2, 3, 4]
            shape[ax] = e
            return rng.normal(shape: shape)
        }
        let joined = Tensor.concat(parts, axis: axis)
        #expect(joined == Reference.concat(parts, axis: axis))
        #expect(joined.split(sizes: extents, axis: axis) == parts)
        #expect(Tensor.concat([parts[0]], axis: axis) == parts[0])
    }

    @Test func splitPiecesMatchReferenceSlices() {
        var rng = RandomGenerator(seed: 11)
        let x = rng.normal(shape: [3, 7, 2])
        let pieces = x.split(sizes: [3, 0, 4], axis: -2)
        #expect(pieces.map(\.shape) == [[3, 3, 2], [3, 0, 2], [3, 4, 2]])
        #expect(pieces[0] == Reference.slice(x, axis: 1, range: 0..<3))
        #expect(pieces[2] == Reference.slice(x, axis: 1, range: 3..<7))
    }

    @Test(arguments: 0..<20)
    func sliceMatchesReferenceOnRandomRanges(seed: Int) {
        var rng = RandomGenerator(seed: 200 + UInt64(seed))
        let rank = 1 + rng.nextInt(below: 4)
        let shape = (0..<rank).map { _ in 1 + rng.nextInt(below: 6) }
        let x = rng.normal(shape: shape)
        let axis = rng.nextInt(below: rank)
        let lower = rng.nextInt(below: shape[axis] + 1)
        let upper = lower + rng.nextInt(below: shape[axis] - lower + 1)
        let signedAxis = rng.nextInt(below: 2) == 0 ? axis : axis - rank
        #expect(x.slice(axis: signedAxis, range: lower..<upper) == Reference.slice(x, axis: axis, range: lower..<upper),
                "shape \(shape) axis \(signedAxis) range \(lower)..<\(upper)")
    }

    @Test func invalidArgumentsStopWithAPreconditionFailure() async {
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).permuted([0, 0]) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).transposed(0, 2) }
        await #expect(processExitsWith: .failure) { _ = Tensor.concat([Tensor.zeros([2, 3]), Tensor.zeros([3, 3])], axis: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).split(sizes: [1, 1], axis: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).slice(axis: -1, range: 2..<4) }
    }

    // MARK: Gradients

    @Test func reshapeGradients() {
        var rng = RandomGenerator(seed: 12)
        let x = rng.normal(shape: [2, 3, 4])
        let r = checkGradients([x]) { t, v in t.reshape(v[0], [4, -1]) }
        #expect(r.passed, "\(r)")
    }

    @Test func permuteAndTransposeGradients() {
        var rng = RandomGenerator(seed: 13)
        let x = rng.normal(shape: [2, 3, 4, 5])
        for perm in [[0, 2, 1, 3], [3, 1, 0, 2], [1, 2, 3, 0], [-1, 0, 1, 2]] {
            let r = checkGradients([x]) { t, v in t.permute(v[0], perm) }
            #expect(r.passed, "perm \(perm): \(r)")
        }
        let r = checkGradients([x]) { t, v in t.transpose(v[0], 1, -1) }
        #expect(r.passed, "\(r)")
        #expect(checkGradients([x]) { t, v in t.transpose(v[0]) }.passed)
    }

    @Test func concatGradients() {
        var rng = RandomGenerator(seed: 14)
        let a = rng.normal(shape: [2, 1, 3]), b = rng.normal(shape: [2, 4, 3]), c = rng.normal(shape: [2, 2, 3])
        let r = checkGradients([a, b, c]) { t, v in t.concat([v[0], v[1], v[2]], axis: 1) }
        #expect(r.passed, "\(r)")
        // Only some inputs need a gradient: the others get none.
        let tape = Tape()
        let x = Variable(a, requiresGrad: true), y = tape.constant(b)
        tape.backward(from: tape.sum(tape.concat([x, y], axis: -2)))
        #expect(x.grad == Tensor.ones(a.shape))
        #expect(y.grad == nil)
    }

    @Test func splitGradients() {
        var rng = RandomGenerator(seed: 15)
        let x = rng.normal(shape: [3, 6, 2])
        // Reassemble the pieces out of order, and use only one piece: unused parts get zero gradient.
        let r = checkGradients([x]) { t, v in
            let p = t.split(v[0], sizes: [1, 3, 2], axis: 1)
            return t.concat([p[2], p[0], p[1]], axis: 1)
        }
        #expect(r.passed, "\(r)")
        let tape = Tape()
        let v = Variable(x, requiresGrad: true)
        let pieces = tape.split(v, sizes: [2, 4], axis: -2)
        tape.backward(from: tape.sum(pieces[1]))
        #expect(v.grad == Tensor.concat([Tensor.zeros([3, 2, 2]), Tensor.ones([3, 4, 2])], axis: 1))
    }

    @Test func sliceGradients() {
        var rng = RandomGenerator(seed: 16)
        let x = rng.normal(shape: [4, 5, 3])
        for (axis, range) in [(0, 1..<3), (1, 0..<5), (-1, 2..<3), (1, 2..<2)] {
            let r = checkGradients([x]) { t, v in t.slice(v[0], axis: axis, range: range) }
            #expect(r.passed, "axis \(axis) range \(range): \(r)")
        }
    }
}
