import Testing
import NanoTensor
import NanoModels
import TestSupport

/// Composite blocks checked against central finite differences, through every parameter too.
@Suite struct BlockGradientTests {
    @Test func crossEntropyMatchesFiniteDifferences() {
        var rng = RandomGenerator(seed: 11)
        let logits = rng.normal(shape: [2, 3, 5])
        let targets = [0, 4, 2, 1, 3, 3]
        let r = checkGradients([logits]) { t, v in Loss.crossEntropy(v[0], targets: targets, tape: t) }
        #expect(r.passed, "\(r)")
    }

    @Test(arguments: [Float(1), 2, 4])
    func klDivergenceMatchesFiniteDifferences(temperature: Float) {
        var rng = RandomGenerator(seed: 12)
        let s = rng.normal(shape: [4, 6]), te = rng.normal(shape: [4, 6])
        let r = checkGradients([s, te]) { t, v in Loss.klDivergence(student: v[0], teacher: v[1], temperature: temperature, tape: t) }
        #expect(r.passed, "\(r)")
    }

    @Test func klDivergenceIsZeroForIdenticalLogits() {
        var rng = RandomGenerator(seed: 13)
        let x = rng.normal(shape: [3, 7])
        let kl = Loss.klDivergence(student: Variable(x), teacher: Variable(x), temperature: 2, tape: Tape(recording: false))
        #expect(abs(kl.value.scalar) < 1e-6)
    }

    @Test func mseAndCosineGradients() {
        var rng = RandomGenerator(seed: 14)
        let a = rng.normal(shape: [3, 5]), b = rng.normal(shape: [3, 5])
        #expect(checkGradients([a, b]) { t, v in Loss.meanSquaredError(v[0], v[1], tape: t) }.passed)
        #expect(checkGradients([a, b]) { t, v in Loss.cosine(v[0], v[1], tape: t) }.passed)
    }

    @Test(arguments: [(4, 4, false), (4, 2, false), (4, 1, true), (2, 2, true)])
    func attentionGradients(heads: Int, kvHeads: Int, rotary: Bool) {
        var rng = RandomGenerator(seed: 21)
        let width = 8, t = 5
        let rope = rotary ? RotaryEmbedding(headDimension: width / heads, maxLength: t) : nil
        let attn = MultiHeadAttention(width: width, heads: heads, kvHeads: kvHeads, rotary: rope, std: 0.5, rng: &rng)
        let x = rng.normal(shape: [2, t, width])
        let mask = Masks.causal(t)
        let r = checkGradients([x], parameters: attn.parameters, maxElements: 16) { tape, v in
            attn(v[0], mask: mask, tape: tape)
        }
        #expect(r.passed, "\(r)")
    }

    @Test(arguments: [FeedForward.Kind.mlp, .swiglu])
    func transformerBlockGradients(kind: FeedForward.Kind) {
        var rng = RandomGenerator(seed: 22)
        let width = 8
        let block = TransformerBlock(
            attentionNorm: Norm(.layerNorm, dimension: width),
            attention: MultiHeadAttention(width: width, heads: 2, std: 0.5, rng: &rng),
            feedForwardNorm: Norm(kind == .mlp ? .layerNorm : .rmsNorm, dimension: width),
            feedForward: FeedForward(kind: kind, width: width, hidden: 12, std: 0.5, rng: &rng))
        let x = rng.normal(shape: [2, 4, width])
        let pad = Masks.padding(lengths: [4, 2], maxLength: 4)
        let r = checkGradients([x], parameters: block.parameters, maxElements: 12) { tape, v in
            block(v[0], mask: pad, tape: tape)
        }
        #expect(r.passed, "\(r)")
    }

    @Test func rotaryInverseUndoesRotation() {
        var rng = RandomGenerator(seed: 23)
        let rope = RotaryEmbedding(headDimension: 8, maxLength: 6)
        let x = rng.normal(shape: [2, 3, 6, 8])
        #expect(isClose(rope.apply(rope.apply(x), inverse: true), x, rtol: 1e-5, atol: 1e-5))
        #expect(!isClose(rope.apply(x), x))
    }
}
