import Testing
import NanoTensor
import TestSupport

/// The existing fast kernels (BLAS matmul, the broadcasting loop, reductions) against the
/// plain-loop `Reference` on many random shapes.
@Suite struct CoreKernelTests {
    struct MatmulCase: Sendable, CustomStringConvertible {
        var aBatch: [Int], bBatch: [Int], m: Int, k: Int, n: Int
        var description: String { "a\(aBatch)+[\(m),\(k)] b\(bBatch)+[\(k),\(n)]" }
    }

    static let matmulCases: [MatmulCase] = [
        MatmulCase(aBatch: [], bBatch: [], m: 1, k: 1, n: 1),
        MatmulCase(aBatch: [], bBatch: [], m: 7, k: 13, n: 5),
        MatmulCase(aBatch: [], bBatch: [], m: 33, k: 70, n: 17),
        MatmulCase(aBatch: [3], bBatch: [3], m: 4, k: 6, n: 5),
        MatmulCase(aBatch: [2, 3], bBatch: [], m: 4, k: 6, n: 5),        // shared b: one big GEMM
        MatmulCase(aBatch: [2, 3], bBatch: [1, 1], m: 4, k: 6, n: 5),    // shared b with unit batch axes
        MatmulCase(aBatch: [], bBatch: [4], m: 3, k: 5, n: 2),           // shared a
        MatmulCase(aBatch: [2, 1], bBatch: [1, 3], m: 3, k: 4, n: 5),    // both broadcast
        MatmulCase(aBatch: [3], bBatch: [2, 1], m: 2, k: 3, n: 4),       // missing leading axis
        MatmulCase(aBatch: [2, 2, 2], bBatch: [2], m: 1, k: 9, n: 1),
        MatmulCase(aBatch: [2], bBatch: [2], m: 3, k: 0, n: 4),          // empty inner extent: zeros
        MatmulCase(aBatch: [0], bBatch: [], m: 3, k: 2, n: 4),           // empty batch
    ]

    @Test(arguments: matmulCases, [(false, false), (false, true), (true, false), (true, true)])
    func matmulMatchesReference(_ c: MatmulCase, _ transposes: (Bool, Bool)) {
        let (ta, tb) = transposes
        var rng = RandomGenerator(seed: UInt64(c.m * 1000 + c.k * 10 + c.n))
        let a = rng.normal(shape: c.aBatch + (ta ? [c.k, c.m] : [c.m, c.k]))
        let b = rng.normal(shape: c.bBatch + (tb ? [c.n, c.k] : [c.k, c.n]))
        let fast = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
        let slow = Reference.matmul(a, b, transposeA: ta, transposeB: tb)
        #expect(isClose(fast, slow, rtol: 1e-4, atol: 1e-4), "\(c) ta \(ta) tb \(tb): excess \(closenessExcess(fast, slow, rtol: 1e-4, atol: 1e-4))")
    }

    /// A random pair of broadcast-compatible shapes: a common shape of rank ≤ 6, from which each
    /// side drops some leading axes and sets some extents to 1.
    static func randomShapePair(_ rng: inout RandomGenerator) -> ([Int], [Int]) {
        let rank = rng.nextInt(below: 7)
        let full = (0..<rank).map { _ in 1 + rng.nextInt(below: 5) }
        func derive(_ rng: inout RandomGenerator) -> [Int] {
            let drop = rng.nextInt(below: rank + 1)
            return full.dropFirst(drop).map { rng.nextInt(below: 3) == 0 ? 1 : $0 }
        }
        return (derive(&rng), derive(&rng))
    }

    static let broadcastPairs: [([Int], [Int])] = [
        ([], []), ([], [3]), ([4], []), ([1], [5]), ([2, 3], [3]), ([2, 3], [2, 1]), ([2, 1, 4], [3, 1]),
        ([1, 1, 1], [2, 3, 4]), ([2, 3, 4], [2, 3, 4]), ([5, 1, 3, 1], [1, 4, 1, 2]), ([0, 3], [3]), ([2, 0], [1, 1]),
    ]

    @Test(arguments: 0..<80)
    func broadcastingMatchesReferenceOnRandomShapes(seed: Int) {
        var rng = RandomGenerator(seed: UInt64(seed))
        var (sa, sb) = Self.randomShapePair(&rng)
        if seed < Self.broadcastPairs.count { (sa, sb) = Self.broadcastPairs[seed] }
        let a = rng.normal(shape: sa), b = rng.uniform(shape: sb, low: 0.5, high: 2)
        // Elementwise Float ops must agree bit for bit: same operation, same operands.
        #expect(a + b == Reference.broadcast(a, b, +), "add \(sa) \(sb)")
        #expect(a - b == Reference.broadcast(a, b, -), "sub \(sa) \(sb)")
        #expect(a * b == Reference.broadcast(a, b, *), "mul \(sa) \(sb)")
        #expect(b / a == Reference.broadcast(b, a, /), "div \(sb) \(sa)")
        #expect(Tensor.maximum(a, b) == Reference.broadcast(a, b) { Swift.max($0, $1) }, "max \(sa) \(sb)")
        #expect(Tensor.minimum(b, a) == Reference.broadcast(b, a) { Swift.min($0, $1) }, "min \(sb) \(sa)")
    }

    @Test func broadcastShapeRejectsIncompatibleShapes() {
        #expect(Broadcast.shape([2, 3], [4]) == nil)
        #expect(Broadcast.shape([2, 1], [3, 1, 5]) == [3, 2, 5])
    }

    @Test(arguments: 0..<40)
    func reductionsMatchReferenceOnRandomShapes(seed: Int) {
        var rng = RandomGenerator(seed: 100 + UInt64(seed))
        let rank = 1 + rng.nextInt(below: 4)
        let shape = (0..<rank).map { _ in 1 + rng.nextInt(below: seed < 5 ? 40 : 6) }
        let x = rng.normal(shape: shape, mean: 0.5)
        // A random non-empty subset of axes, some written as negative.
        var axes = (0..<rank).filter { _ in rng.nextInt(below: 2) == 0 }
        if axes.isEmpty { axes = [rng.nextInt(below: rank)] }
        axes = axes.map { rng.nextInt(below: 2) == 0 ? $0 - rank : $0 }
        let n = Float(shape.elementCount)
        let tol = 1e-5 * n.squareRoot()
        for keep in [false, true] {
            let s = x.sum(axes: axes, keepDims: keep), rs = Reference.sum(x, axes: axes, keepDims: keep)
            #expect(isClose(s, rs, rtol: 1e-5, atol: tol), "sum \(shape) axes \(axes) keepDims \(keep)")
            let m = x.mean(axes: axes, keepDims: keep), rm = Reference.mean(x, axes: axes, keepDims: keep)
            #expect(isClose(m, rm, rtol: 1e-5, atol: tol), "mean \(shape) axes \(axes) keepDims \(keep)")
            let axis = axes[0]
            #expect(x.max(axis: axis, keepDims: keep) == Reference.max(x, axis: axis, keepDims: keep),
                    "max \(shape) axis \(axis) keepDims \(keep)")
        }
        #expect(isClose(x.sum(), Reference.sum(x), rtol: 1e-5, atol: tol))
        #expect(isClose(x.mean(), Reference.mean(x), rtol: 1e-5, atol: tol))
    }

    @Test func maxPicksFirstOfTiesAndPropagatesNaN() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 5, 2, .nan, 7])
        let (values, indices) = x.maxWithIndices(axis: 1)
        #expect(values.scalars[0] == 5 && indices[0] == 1)
        #expect(values.scalars[1].isNaN)
        #expect(Reference.max(x, axis: 1).scalars[1].isNaN)
    }
}
