import Foundation
import Testing
import NanoModels
import NanoTensor
import TestSupport

/// The architecture contract: the registry recognises configurations, name maps are data that
/// round-trip, and the module walk finds and replaces layers by path.
@Suite struct ModelContractTests {
    @Test func registryRecognisesEachConvention() throws {
        let bert = ConfigSource(convention: .huggingFace, values: .object([
            ("model_type", .string("bert")), ("vocab_size", .number(30)), ("hidden_size", .number(8)),
            ("num_hidden_layers", .number(1)), ("num_attention_heads", .number(2)), ("intermediate_size", .number(16))]), file: "config.json")
        let spec = try ModelSpec.recognise(bert)
        #expect(spec.architectureName == "bert")
        #expect(spec.configuration(as: BertEncoder.Configuration.self)?.intermediateWidth == 16)
        #expect(spec.tasks == [.sentenceEmbedding])

        let mlp = MLPClassifier.Configuration(inputs: 4, hidden: [3], classes: 2)
        let native = ConfigSource.native(architecture: "mlp_classifier", config: .object([
            ("inputs", .number(4)), ("hidden", .array([.number(3)])), ("classes", .number(2)), ("activation", .string("relu"))]), file: "c.json")
        #expect(try ModelSpec.recognise(native) == .mlp(mlp))
        #expect(try ModelSpec.recognise(native) != .mlp(.init(inputs: 4, hidden: [5], classes: 2)))

        let t5 = ConfigSource(convention: .huggingFace, values: .object([("model_type", .string("t5"))]), file: "config.json")
        #expect(throws: ConfigError(file: "config.json", field: "model_type",
                                    reason: "unknown architecture 't5' (known: bert, gpt_decoder, mlp_classifier, llama, keras_graph)")) {
            try ModelSpec.recognise(t5)
        }
        let gguf = ConfigSource(convention: .gguf, values: .object([("general.architecture", .string("bert"))]), file: "m.gguf")
        #expect(gguf.names == ["bert"])
        // No family reads a `bert` GGUF file: refused with the key that named it.
        #expect(throws: ConfigError.self) { try ModelSpec.recognise(gguf) }
    }

    @Test func everyFamilyIsListedOnceWithItsTasks() {
        let names = Architectures.all.map { $0.name }
        #expect(names == ["bert", "gpt_decoder", "mlp_classifier", "llama", "keras_graph"])
        #expect(Set(names).count == names.count)
        for family in Architectures.all { #expect(!family.tasks.isEmpty, "\(family.name)") }
        #expect(Architectures.named("gpt_decoder")?.inputAdapter == .characters)
        #expect(Architectures.named("llama")?.inputAdapter == .byteLevelBPE)
        #expect(Architectures.named("keras_graph")?.inputAdapter == .features)
    }

    static let llamaNames = TensorNameMap(entries: [
        .init(stored: "blk.{i}.attn_q.weight", parameter: "layers.{i}.attention.q_proj.weight", transform: .unpermuteRotaryRows(heads: 2)),
        .init(stored: "token_embd.weight", parameter: "embed_tokens.weight"),
        .init(stored: "dense_{i}.kernel", parameter: "layers.{i}.weight", transform: .transpose),
    ])

    @Test func nameMapRenamesBothWays() {
        let map = Self.llamaNames
        #expect(map.parameter(forStored: "blk.12.attn_q.weight").path == "layers.12.attention.q_proj.weight")
        #expect(map.parameter(forStored: "blk.12.attn_q.weight").transform == .unpermuteRotaryRows(heads: 2))
        #expect(map.parameter(forStored: "token_embd.weight") == ("embed_tokens.weight", .none))
        #expect(map.parameter(forStored: "blk.x.attn_q.weight").path == "blk.x.attn_q.weight")
        #expect(map.parameter(forStored: "output_norm.weight").path == "output_norm.weight")
        for stored in ["blk.0.attn_q.weight", "blk.29.attn_q.weight", "token_embd.weight", "dense_3.kernel", "other"] {
            #expect(map.stored(forParameter: map.parameter(forStored: stored).path) == stored)
        }
        let prefixed = TensorNameMap(storedPrefix: "bert.")
        #expect(prefixed.parameter(forStored: "bert.pooler.dense.weight").path == "pooler.dense.weight")
        #expect(prefixed.stored(forParameter: "pooler.dense.weight") == "bert.pooler.dense.weight")
    }

    /// llama.cpp's converter: `w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(w.shape)`.
    static func llamaCppPermute(_ w: Tensor, heads: Int) -> Tensor {
        let rows = w.shape[0], cols = w.shape[1], d = rows / heads, half = d / 2
        var out = [Float](repeating: 0, count: w.count)
        for h in 0..<heads {
            for j in 0..<half {
                for k in 0..<2 {
                    let from = h * d + k * half + j, to = h * d + j * 2 + k
                    for c in 0..<cols { out[to * cols + c] = w.scalars[from * cols + c] }
                }
            }
        }
        return Tensor(shape: w.shape, scalars: out)
    }

    @Test func rotaryRowPermutationIsUndone() {
        // One head of 4 rows: llama.cpp stores rows (0, 2, 1, 3).
        let w = Tensor(shape: [4, 1], scalars: [0, 1, 2, 3])
        #expect(Self.llamaCppPermute(w, heads: 1).scalars == [0, 2, 1, 3])
        var rng = RandomGenerator(seed: 3)
        for (heads, d, cols) in [(1, 2, 1), (3, 8, 5), (2, 6, 7)] {
            let original = rng.normal(shape: [heads * d, cols], std: 1)
            let stored = Self.llamaCppPermute(original, heads: heads)
            #expect(TensorNameMap.apply(.unpermuteRotaryRows(heads: heads), to: stored) == original)
        }
        let kernel = rng.normal(shape: [3, 5], std: 1)
        #expect(TensorNameMap.apply(.transpose, to: kernel) == kernel.transposed())
    }

    @Test func walkFindsEveryLayerInParameterOrder() {
        var rng = RandomGenerator(seed: 1)
        let bert = BertEncoder(.init(vocabularySize: 20, width: 8, layers: 2, heads: 2, intermediateWidth: 16), pooler: true, rng: &rng)
        let decoder = GPTDecoder(.init(vocabularySize: 11, contextLength: 8, width: 8, layers: 2, heads: 2, feedForward: .swiglu), rng: &rng)
        let mlp = MLPClassifier(.init(inputs: 4, hidden: [6, 5], classes: 3), rng: &rng)
        for model in [bert, decoder, mlp] as [ParameterContainer] {
            // Every Linear's weight is a parameter named by its path, in the same order.
            let linearWeights = model.namedParameters.map(\.name).filter { name in
                model.layers(of: Linear.self).contains { $0.name + ".weight" == name }
            }
            #expect(model.layers(of: Linear.self).map { $0.name + ".weight" } == linearWeights)
            for (path, module) in model.namedModules { #expect(model.module(at: path) === module, "\(path)") }
        }
        #expect(bert.layers(of: Linear.self).count == 2 * 6 + 1)
        #expect(bert.layers(of: Embedding.self).map(\.name) == ["embeddings.word_embeddings", "embeddings.position_embeddings",
                                                                 "embeddings.token_type_embeddings"])
        #expect(decoder.layers(of: Linear.self).map(\.name).prefix(7) == ["blocks.0.attn.q_proj", "blocks.0.attn.k_proj", "blocks.0.attn.v_proj",
                                                                            "blocks.0.attn.o_proj", "blocks.0.ffn.up_proj", "blocks.0.ffn.gate_proj",
                                                                            "blocks.0.ffn.down_proj"])
        #expect(decoder.layers(of: Linear.self).last?.name == "lm_head")
        #expect(mlp.layers(of: Linear.self).map(\.name) == ["layers.0", "layers.1", "layers.2"])
    }

    @Test func replaceSwapsOneLayerByPath() {
        var rng = RandomGenerator(seed: 2)
        let bert = BertEncoder(.init(vocabularySize: 20, width: 8, layers: 2, heads: 2, intermediateWidth: 16), rng: &rng)
        let decoder = GPTDecoder(.init(vocabularySize: 11, contextLength: 8, width: 8, layers: 1, heads: 2), rng: &rng)
        for (model, path) in [(bert as ParameterContainer, "encoder.layer.1.attention.self.key"), (bert, "encoder.layer.0.output.dense"),
                              (decoder, "blocks.0.attn.q_proj"), (decoder, "blocks.0.ffn.down_proj")] {
            guard let old = model.module(at: path) as? Linear else { Issue.record("no Linear at \(path)"); continue }
            let before = model.namedParameters.map(\.name)
            let new = Linear(weight: Tensor.zeros(old.weight.shape), bias: old.bias.map { Tensor.zeros($0.shape) })
            #expect(model.replaceModule(at: path, with: new))
            #expect(model.module(at: path) === new)
            #expect(model.namedParameters.map(\.name) == before)
            #expect(model.namedParameters.first { $0.name == path + ".weight" }?.variable === new.weight)
            // A different shape, another kind of module, or a path with no layer is refused.
            #expect(!model.replaceModule(at: path, with: Linear(3, 2, rng: &rng)))
            #expect(!model.replaceModule(at: path, with: Embedding(2, 2, rng: &rng)))
        }
        #expect(!bert.replaceModule(at: "encoder.layer.9.output.dense", with: Linear(16, 8, rng: &rng)))
        #expect(!bert.replaceModule(at: "embeddings.word_embeddings", with: Embedding(20, 8, rng: &rng)))
    }
}
