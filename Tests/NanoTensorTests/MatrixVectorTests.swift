import Testing
import NanoTensor
import TestSupport

/// `Tensor.linearFewRows` (sgemv per row, rows of the weight split across threads) against the
/// plain-loop matmul reference, on odd shapes and tails.
@Suite struct MatrixVectorTests {
    @Test(arguments: [(1, 1, 1), (1, 7, 3), (1, 576, 1536), (3, 65, 129), (2, 1000, 2049), (4, 31, 64), (1, 0, 5)])
    func matchesReference(rows: Int, inFeatures: Int, outFeatures: Int) {
        var rng = RandomGenerator(seed: UInt64(rows * 1_000_003 + inFeatures * 1009 + outFeatures))
        let x = rng.normal(shape: [rows, inFeatures]), w = rng.normal(shape: [outFeatures, inFeatures])
        let bias = rng.normal(shape: [outFeatures])
        let expected = Reference.matmul(x, w, transposeB: true)
        let withBias = Reference.broadcast(expected, bias, +)
        let tolerance = 1e-5 * Float(max(inFeatures, 1)).squareRoot() * 4
        #expect(isClose(Tensor.linearFewRows(x, weight: w, bias: nil), expected, rtol: 1e-5, atol: tolerance))
        #expect(isClose(Tensor.linearFewRows(x, weight: w, bias: bias), withBias, rtol: 1e-5, atol: tolerance))
        #expect(Tensor.linearFewRows(x, weight: w, bias: bias).shape == [rows, outFeatures])
    }
}
