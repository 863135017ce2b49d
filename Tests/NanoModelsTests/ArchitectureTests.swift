import Testing
import NanoTensor
import NanoModels
import TestSupport

@Suite struct ArchitectureTests {
    @Test func decoderParameterNamesAndCount() {
        var rng = RandomGenerator(seed: 41)
        let c = GPTDecoder.Configuration(vocabularySize: 512, contextLength: 128, width: 256, layers: 4, heads: 4, feedForwardWidth: 1024)
        let model = GPTDecoder(c, rng: &rng)
        let names = model.namedParameters.map(\.name)
        #expect(names.first == "tok_embeddings.weight")
        #expect(names.contains("blocks.3.attn.q_proj.weight"))
        #expect(names.contains("blocks.0.ffn.down_proj.bias"))
        #expect(names.contains("blocks.2.attn_norm.weight"))
        #expect(names.last == "lm_head.weight")
        #expect(Set(names).count == names.count)
        // Per block: 4·(256²+256) attention + (256·1024+1024) + (1024·256+256) MLP + 2·512 norms.
        let block = 4 * (256 * 256 + 256) + (256 * 1024 + 1024) + (1024 * 256 + 256) + 2 * 512
        #expect(model.parameterCount == 512 * 256 + 128 * 256 + 4 * block + 512 + 256 * 512)
    }

    @Test func decoderOutputsLogitsPerPosition() {
        var rng = RandomGenerator(seed: 42)
        let model = GPTDecoder(.init(vocabularySize: 11, contextLength: 8, width: 16, layers: 2, heads: 2,
                                     norm: .rmsNorm, positions: .rotary), rng: &rng)
        let logits = model(Array(0..<12).map { $0 % 11 }, batch: 2, length: 6, tape: Tape(recording: false))
        #expect(logits.shape == [2, 6, 11])
    }

    /// Causality: changing a later token must not change earlier positions' logits.
    @Test func decoderIsCausal() {
        var rng = RandomGenerator(seed: 43)
        let model = GPTDecoder(.init(vocabularySize: 9, contextLength: 8, width: 16, layers: 2, heads: 4, kvHeads: 2), rng: &rng)
        let a = model([1, 2, 3, 4, 5, 6], batch: 1, length: 6, tape: Tape(recording: false)).value
        let b = model([1, 2, 3, 4, 5, 0], batch: 1, length: 6, tape: Tape(recording: false)).value
        #expect(isClose(a.slice(axis: 1, range: 0..<5), b.slice(axis: 1, range: 0..<5), rtol: 0, atol: 0))
        #expect(!isClose(a.slice(axis: 1, range: 5..<6), b.slice(axis: 1, range: 5..<6)))
    }

    /// Grouped-query attention equals full multi-head attention whose key/value heads are copies.
    @Test func groupedQueryAttentionEqualsRepeatedHeads() {
        var rng = RandomGenerator(seed: 44)
        let width = 16, heads = 4, kvHeads = 2, d = width / heads
        let gqa = MultiHeadAttention(width: width, heads: heads, kvHeads: kvHeads, std: 0.3, rng: &rng)
        func repeatHeads(_ l: Linear) -> Linear {
            var rows: [Tensor] = []
            var biases: [Tensor] = []
            for h in 0..<heads {
                let kv = h / (heads / kvHeads)
                rows.append(l.weight.value.slice(axis: 0, range: kv * d..<(kv + 1) * d))
                biases.append(l.bias!.value.slice(axis: 0, range: kv * d..<(kv + 1) * d))
            }
            return Linear(weight: Tensor.concat(rows, axis: 0), bias: Tensor.concat(biases, axis: 0))
        }
        let full = MultiHeadAttention(query: gqa.query, key: repeatHeads(gqa.key), value: repeatHeads(gqa.value),
                                      output: gqa.output, heads: heads, kvHeads: heads, rotary: nil)
        let x = Variable(rng.normal(shape: [2, 5, width]))
        let mask = Masks.causal(5)
        let a = gqa(x, mask: mask, tape: Tape(recording: false)).value
        let b = full(x, mask: mask, tape: Tape(recording: false)).value
        #expect(isClose(a, b, rtol: 1e-5, atol: 1e-6))
    }

    @Test func mlpClassifierNamesAndShapes() {
        var rng = RandomGenerator(seed: 45)
        let mlp = MLPClassifier(.init(inputs: 64, hidden: [32, 16], classes: 10), rng: &rng)
        #expect(mlp.namedParameters.map(\.name) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                    "layers.1.bias", "layers.2.weight", "layers.2.bias"])
        #expect(mlp.namedParameters.map(\.variable.shape) == [[32, 64], [32], [16, 32], [16], [10, 16], [10]])
        let out = mlp(Variable(rng.normal(shape: [3, 64])), tape: Tape(recording: false))
        #expect(out.shape == [3, 10])
    }

    @Test func linearMatchesReferenceMatmul() {
        var rng = RandomGenerator(seed: 46)
        let layer = Linear(6, 3, rng: &rng)
        let x = rng.normal(shape: [2, 4, 6])
        let y = layer(Variable(x), tape: Tape(recording: false)).value
        let expected = Reference.matmul(x, layer.weight.value, transposeA: false, transposeB: true) + layer.bias!.value
        #expect(isClose(y, expected, rtol: 1e-5, atol: 1e-5))
    }
}
