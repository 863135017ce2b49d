import Foundation
import Testing
import NanoTensor
import NanoModels
import TestSupport

/// The Llama family's model: names, the KV-cache path against the full forward pass, sampling.
@Suite struct LlamaModelTests {
    static func tiny(kvHeads: Int = 2, tied: Bool = false, bias: Bool = false, seed: UInt64 = 5) -> LlamaModel {
        var rng = RandomGenerator(seed: seed)
        let c = LlamaConfiguration(vocabularySize: 37, width: 32, layers: 2, heads: 4, kvHeads: kvHeads, feedForwardWidth: 48,
                                   contextLength: 40, ropeBase: 5_000, rmsEpsilon: 1e-5, tiedEmbeddings: tied, attentionBias: bias)
        let model = LlamaModel(c, rng: &rng)
        // Larger weights than the initialiser's 0.02 so attention is far from uniform and every
        // position's logits differ.
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        return model
    }

    static func fullLogits(_ model: LlamaModel, _ tokens: [Int]) -> Tensor {
        let v = model(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
        return v.reshaped([tokens.count, model.configuration.vocabularySize])
    }

    @Test func parameterNamesAreHuggingFaces() {
        let names = Self.tiny().namedParameters.map(\.name)
        #expect(names.first == "model.embed_tokens.weight")
        for n in ["model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                  "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
                  "model.layers.0.post_attention_layernorm.weight", "model.layers.1.mlp.gate_proj.weight",
                  "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(names.last == "lm_head.weight")
        #expect(!names.contains { $0.hasSuffix(".bias") })
        #expect(names.count == 1 + 2 * 9 + 2)
        let tied = Self.tiny(tied: true).namedParameters.map(\.name)
        #expect(!tied.contains("lm_head.weight") && tied.count == names.count - 1)
        let qwen = Self.tiny(bias: true).namedParameters.map(\.name)
        #expect(qwen.contains("model.layers.0.self_attn.q_proj.bias") && qwen.contains("model.layers.0.self_attn.v_proj.bias"))
        #expect(!qwen.contains("model.layers.0.self_attn.o_proj.bias"))
    }

    @Test func tiedHeadUsesTheEmbeddingTable() {
        let model = Self.tiny(tied: true)
        let logits = Self.fullLogits(model, [3, 1, 4])
        // Last position's logits = final hidden · Eᵀ: perturbing one embedding row moves exactly that logit column
        // (token 30 is not in the input, so only the head sees the change).
        let before = logits.scalars
        var table = model.tokenEmbedding.weight.value.scalars
        for j in 0..<32 { table[30 * 32 + j] *= 2 }
        model.tokenEmbedding.weight.value = Tensor(shape: [37, 32], scalars: table)
        let after = Self.fullLogits(model, [3, 1, 4]).scalars
        for v in 0..<37 where v != 30 { #expect(before[2 * 37 + v] == after[2 * 37 + v]) }
        #expect(abs(after[2 * 37 + 30] - 2 * before[2 * 37 + 30]) <= 1e-4 * max(1, abs(before[2 * 37 + 30])))
    }

    /// The KV-cache path equals the full forward pass at every position, whatever the chunking.
    @Test(arguments: [(2, false, false), (4, false, false), (1, true, false), (2, false, true)])
    func cachedDecodingMatchesFullForward(kvHeads: Int, tied: Bool, bias: Bool) {
        let model = Self.tiny(kvHeads: kvHeads, tied: tied, bias: bias)
        let tokens = [5, 17, 0, 36, 9, 9, 22, 1, 30, 14, 2, 8, 33, 7]
        let full = Self.fullLogits(model, tokens)
        let v = model.configuration.vocabularySize
        for chunks in [[14], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [5, 1, 1, 3, 1, 3]] {
            let cache = LlamaKVCache(for: model, capacity: 20)
            var rows: [Float] = [], start = 0
            for n in chunks {
                rows += model.decode(Array(tokens[start..<start + n]), cache: cache).scalars
                start += n
            }
            #expect(cache.count == tokens.count)
            let incremental = Tensor(shape: [tokens.count, v], scalars: rows)
            // Measured ≤ 2e-6 (the order of float additions differs); 1e-4 leaves room across CPUs.
            #expect(maxAbsDifference(incremental, full) <= 1e-4, "chunks \(chunks): \(maxAbsDifference(incremental, full))")
        }
        // Last-position-only prefill gives the last row.
        let cache = LlamaKVCache(for: model, capacity: 20)
        let last = model.decode(tokens, cache: cache, lastPositionOnly: true)
        #expect(last.shape == [1, v])
        #expect(maxAbsDifference(last, Tensor(shape: [1, v], scalars: Array(full.scalars[(tokens.count - 1) * v..<tokens.count * v]))) <= 1e-4)
    }

    @Test func rotaryOffsetContinuesTheSequence() {
        let rope = RotaryEmbedding(headDimension: 8, maxLength: 16, base: 100)
        var rng = RandomGenerator(seed: 3)
        let x = rng.normal(shape: [2, 6, 8])
        let full = rope.apply(x)
        let tail = rope.apply(x.slice(axis: 1, range: 4..<6), offset: 4)
        #expect(tail == full.slice(axis: 1, range: 4..<6))
    }

    /// Greedy generation equals re-running the full forward pass and taking the argmax each step.
    @Test func greedyGenerationMatchesRepeatedFullForward() {
        let model = Self.tiny()
        var sampler = TokenSampler()
        let prompt = [4, 8, 15, 16]
        let generated = model.generate(prompt: prompt, maxTokens: 12, sampler: &sampler)
        var sequence = prompt
        let v = model.configuration.vocabularySize
        for _ in 0..<12 {
            let logits = Self.fullLogits(model, sequence)
            sequence.append(TokenSampler.argmax(logits.scalars[(sequence.count - 1) * v..<sequence.count * v]))
        }
        #expect(generated == Array(sequence.dropFirst(prompt.count)))
        // A stop token ends generation and is returned.
        var again = TokenSampler()
        let stopped = model.generate(prompt: prompt, maxTokens: 12, sampler: &again, stopTokens: [generated[3]])
        #expect(stopped == Array(generated.prefix(through: generated.firstIndex(of: generated[3])!)))
    }

    @Test func samplerGreedyTopPAndSeeds() {
        #expect(TokenSampler.argmax([1, 3, 3, 2][...]) == 1)
        var greedy = TokenSampler()
        #expect(greedy.next([0.5, -1, 4, 4][...]) == 2)
        // top-p small enough keeps only the most probable token.
        var narrow = TokenSampler(temperature: 1, topP: 0.01, seed: 9)
        for _ in 0..<20 { #expect(narrow.next([1, 2, 0.5][...]) == 1) }
        // Same seed, same draws; the frequencies follow softmax(logits / T).
        let logits: [Float] = [0, 1, 2]
        var a = TokenSampler(temperature: 0.5, seed: 1), b = TokenSampler(temperature: 0.5, seed: 1)
        var counts = [0, 0, 0]
        for _ in 0..<4000 {
            let x = a.next(logits[...])
            #expect(x == b.next(logits[...]))
            counts[x] += 1
        }
        let weights = logits.map { Foundation.exp(Double($0) / 0.5) }
        let total = weights.reduce(0, +)
        for i in 0..<3 {
            let expected = weights[i] / total, seen = Double(counts[i]) / 4000
            #expect(abs(seen - expected) < 0.03, "token \(i): \(seen) vs \(expected)")
        }
        // top-p 0.5 on these logits (p ≈ 0.87, 0.12, 0.02) keeps only token 2.
        var nucleus = TokenSampler(temperature: 0.5, topP: 0.5, seed: 2)
        for _ in 0..<50 { #expect(nucleus.next(logits[...]) == 2) }
    }
}
