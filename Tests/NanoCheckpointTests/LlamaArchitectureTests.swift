import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// The Llama family on the architecture registry, loaded by the generic `ModelLoader` from the
/// tiny random Llama of scripts/fixtures/make_tiny_llama.py (Hugging Face folder and GGUF),
/// against transformers' logits, and its errors.
@Suite struct LlamaArchitectureTests {
    static let folder = RepositoryPaths.fixture("models/tiny-llama")

    /// The generic loader, asked for a Llama model.
    static func load(_ path: String) throws -> LlamaModel { try ModelLoader.load(path: path, as: LlamaModel.self) }

    /// The Hugging Face config of `text` as the registry reads it: nil when the Llama family does
    /// not recognise it; its `ConfigError` as the loader reports it.
    static func configuration(_ text: String) throws -> LlamaConfiguration? {
        let source = ConfigSource(convention: .huggingFace, values: try JSONParser.parse(Array(text.utf8)).configValue, file: "config.json")
        guard LlamaArchitecture.recognises(source) else { return nil }
        return try ModelSpec.recognising(source).configuration(as: LlamaConfiguration.self)
    }

    static func golden() throws -> (tokens: [[Int]], logits: Tensor) {
        let store = try SafetensorsReader.read(path: folder + "/golden.safetensors")
        let shape = store["tokens"]!.shape
        let flat = store["tokens"]!.integers().map(Int.init)
        let tokens = (0..<shape[0]).map { Array(flat[$0 * shape[1]..<($0 + 1) * shape[1]]) }
        return (tokens, try store.floatTensor("logits"))
    }

    /// Logits of every golden sequence by the full forward pass and by the KV-cache path, against transformers.
    static func checkAgainstGolden(_ model: LlamaModel) throws -> Float {
        let g = try golden()
        let (n, t, v) = (g.tokens.count, g.tokens[0].count, model.configuration.vocabularySize)
        let full = model(g.tokens.flatMap { $0 }, batch: n, length: t, tape: Tape(recording: false)).value
        #expect(full.shape == g.logits.shape)
        var cached: [Float] = []
        for sequence in g.tokens {
            let cache = LlamaKVCache(for: model, capacity: t)
            cached += model.decode(Array(sequence.prefix(5)), cache: cache).scalars
            for token in sequence.dropFirst(5) { cached += model.decode([token], cache: cache).scalars }
        }
        let incremental = Tensor(shape: g.logits.shape, scalars: cached)
        for row in 0..<(n * t) {
            let range = row * v..<(row + 1) * v
            #expect(TokenSampler.argmax(full.scalars[range]) == TokenSampler.argmax(g.logits.scalars[range]), "row \(row)")
            #expect(TokenSampler.argmax(incremental.scalars[range]) == TokenSampler.argmax(g.logits.scalars[range]), "row \(row)")
        }
        return max(maxAbsDifference(full, g.logits), maxAbsDifference(incremental, g.logits))
    }

    @Test func registryRecognisesBothFiles() throws {
        #expect(try ModelLoader.load(path: Self.folder).model.architecture == LlamaArchitecture.self)
        #expect(try ModelLoader.load(path: Self.folder + "/tiny-llama.gguf").model.architecture == LlamaArchitecture.self)
        #expect(Architectures.named("llama") == LlamaArchitecture.self)
    }

    @Test func huggingFaceFolderMatchesTransformers() throws {
        let model = try Self.load(Self.folder)
        let c = model.configuration
        #expect(c == LlamaConfiguration(vocabularySize: 256, width: 64, layers: 2, heads: 4, kvHeads: 2, headDimension: 16,
                                        feedForwardWidth: 128, contextLength: 64, ropeBase: 50_000, rmsEpsilon: 1e-5))
        let worst = try Self.checkAgainstGolden(model)
        print("tiny Llama (config.json + safetensors) vs transformers: max |Δ logit| \(worst)")
        // Measured 1.9e-6 on logits in [-2.9, 3.4].
        #expect(worst <= 1e-4)
    }

    @Test func ggufMatchesTransformersAndTheSafetensorsWeights() throws {
        let path = Self.folder + "/tiny-llama.gguf"
        #expect(try ModelLoader.isGGUF(path))
        let model = try Self.load(path)
        let reference = try Self.load(Self.folder)
        #expect(model.configuration == reference.configuration)
        // Both files hold the same F16 values: after undoing the q/k permutation every tensor is identical.
        for ((name, a), (_, b)) in zip(model.namedParameters, reference.namedParameters) {
            #expect(a.value == b.value, "\(name)")
        }
        let worst = try Self.checkAgainstGolden(model)
        print("tiny Llama (GGUF) vs transformers: max |Δ logit| \(worst)")
        #expect(worst <= 1e-4)
    }

    @Test func rotaryPermutationIsLlamaCppsAndInvertible() {
        // One head of width 4: HF rows (0, 1 | 2, 3) pair as (0, 2), (1, 3); GGUF stores pairs adjacent.
        let hf = Tensor(shape: [4, 2], scalars: [0, 0, 1, 1, 2, 2, 3, 3])
        #expect(TensorNameMap.permuteRotaryRows(hf, heads: 1).scalars == [0, 0, 2, 2, 1, 1, 3, 3])
        var rng = RandomGenerator(seed: 1)
        let w = rng.normal(shape: [3 * 8, 5])
        #expect(TensorNameMap.unpermuteRotaryRows(TensorNameMap.permuteRotaryRows(w, heads: 3), heads: 3) == w)
        #expect(TensorNameMap.permuteRotaryRows(w, heads: 3) != w)
        let bias = rng.normal(shape: [12])
        #expect(TensorNameMap.unpermuteRotaryRows(TensorNameMap.permuteRotaryRows(bias, heads: 2), heads: 2) == bias)
    }

    @Test func tensorNameTable() {
        // The GGUF table as data: the stored name of a parameter (nil: none), and what loading does to it.
        let c = LlamaConfiguration(vocabularySize: 8, width: 64, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 8, contextLength: 4)
        let names = LlamaArchitecture.tensorNames(c, convention: .gguf, storedNames: [])
        func gguf(_ parameter: String) -> String? {
            let stored = names.stored(forParameter: parameter)
            return stored == parameter ? nil : stored
        }
        func permutation(_ parameter: String) -> TensorNameMap.Transform? {
            gguf(parameter).map { names.parameter(forStored: $0).transform }
        }
        #expect(gguf("model.embed_tokens.weight") == "token_embd.weight")
        #expect(gguf("lm_head.weight") == "output.weight")
        #expect(gguf("model.norm.weight") == "output_norm.weight")
        #expect(gguf("model.layers.12.mlp.up_proj.weight") == "blk.12.ffn_up.weight")
        #expect(gguf("model.layers.0.post_attention_layernorm.weight") == "blk.0.ffn_norm.weight")
        #expect(permutation("model.layers.3.self_attn.q_proj.weight") == .unpermuteRotaryRows(heads: 4))
        #expect(permutation("model.layers.3.self_attn.k_proj.weight") == .unpermuteRotaryRows(heads: 2))
        #expect(permutation("model.layers.3.self_attn.v_proj.weight") == TensorNameMap.Transform.none)
        #expect(gguf("model.layers.x.mlp.up_proj.weight") == nil)
        #expect(gguf("model.layers.1.mlp.fc1.weight") == nil)
        // Every parameter of a model has a GGUF name, and the stored name maps back to it.
        var rng = RandomGenerator(seed: 0)
        let model = LlamaModel(LlamaConfiguration(vocabularySize: 8, width: 8, layers: 2, heads: 2, feedForwardWidth: 8,
                                                  contextLength: 4, attentionBias: true), rng: &rng)
        for (name, _) in model.namedParameters {
            #expect(gguf(name) != nil, "\(name)")
            #expect(names.parameter(forStored: names.stored(forParameter: name)).path == name)
        }
        // Hugging Face checkpoints: rotary buffers, and a tied model's saved head, are skipped.
        let tied = LlamaArchitecture.tensorNames(LlamaConfiguration(vocabularySize: 8, width: 8, layers: 1, heads: 2, feedForwardWidth: 8,
                                                                    contextLength: 4, tiedEmbeddings: true), convention: .huggingFace, storedNames: [])
        #expect(tied.isIgnored("lm_head.weight") && tied.isIgnored("model.layers.7.self_attn.rotary_emb.inv_freq"))
        #expect(!tied.isIgnored("model.layers.7.self_attn.q_proj.weight"))
        #expect(!LlamaArchitecture.tensorNames(c, convention: .huggingFace, storedNames: []).isIgnored("lm_head.weight"))
    }

    static func parse(_ text: String) throws -> LlamaConfiguration? {
        try configuration(text)
    }

    static func configError(_ text: String) -> CheckpointError? {
        do { _ = try parse(text); return nil } catch let e as CheckpointError { return e } catch { return nil }
    }

    @Test func huggingFaceConfigurations() throws {
        // transformers 4's spelling (SmolLM2-135M's own config.json keys).
        let smol = try Self.parse("""
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
             "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
             "max_position_embeddings": 8192, "rope_theta": 100000, "rope_scaling": null, "rms_norm_eps": 1e-05,
             "tie_word_embeddings": true, "hidden_act": "silu"}
            """)
        #expect(smol == LlamaConfiguration(vocabularySize: 49_152, width: 576, layers: 30, heads: 9, kvHeads: 3, headDimension: 64,
                                           feedForwardWidth: 1536, contextLength: 8192, ropeBase: 100_000, rmsEpsilon: 1e-5,
                                           tiedEmbeddings: true))
        let qwen = try Self.parse("""
            {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1,
             "num_attention_heads": 4, "vocab_size": 10, "rope_theta": 1000000.0}
            """)
        #expect(qwen?.attentionBias == true && qwen?.kvHeads == 4 && qwen?.ropeBase == 1_000_000)
        #expect(try Self.parse(#"{"model_type": "bert", "hidden_size": 8}"#) == nil)

        let base = #""model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1, "vocab_size": 10"#
        #expect(Self.configError("{\(base), \"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}")
                == .invalidConfig(file: "config.json", field: "rope_scaling", reason: "rotary scaling 'llama3' is not supported"))
        #expect(Self.configError("{\(base)}") == .invalidConfig(file: "config.json", field: "num_attention_heads", reason: "missing"))
        #expect(Self.configError("{\(base), \"num_attention_heads\": 4, \"num_key_value_heads\": 3}")?.description
                == "config.json: config field 'kvHeads': 4 heads are not a multiple of 3 key/value heads")
        #expect(Self.configError("{\(base), \"num_attention_heads\": 4, \"hidden_act\": \"gelu\"}")
                == .invalidConfig(file: "config.json", field: "hidden_act", reason: "'gelu' is not supported (Llama uses silu)"))
        #expect(Self.configError("{\(base), \"num_attention_heads\": -4}")
                == .invalidConfig(file: "config.json", field: "num_attention_heads", reason: "expected a positive integer, found -4"))
    }

    @Test func storeErrorsNameTheTensor() throws {
        let spec = try ModelLoader.readConfig(Self.folder + "/config.json")
        let store = try CheckpointReader.read(path: Self.folder + "/model.safetensors")
        var missing = store
        missing = TensorStore(tensors: store.tensors.filter { $0.name != "model.layers.1.mlp.up_proj.weight" }, source: "m.safetensors")
        #expect(throws: CheckpointError.missingTensor(file: "m.safetensors", tensor: "model.layers.1.mlp.up_proj.weight")) {
            try ModelLoader.build(spec, from: missing)
        }
        var extra = store
        extra.source = "m.safetensors"
        extra.insert(StoredTensor.encoding(Tensor.zeros([2]), name: "model.layers.0.self_attn.q_proj.bias"))
        #expect(throws: CheckpointError.unexpectedTensor(file: "m.safetensors", tensor: "model.layers.0.self_attn.q_proj.bias")) {
            try ModelLoader.build(spec, from: extra)
        }
        var wrong = store
        wrong.source = "m.safetensors"
        wrong.insert(StoredTensor.encoding(Tensor.zeros([64, 64]), name: "model.layers.0.self_attn.k_proj.weight"))
        #expect(throws: CheckpointError.shapeMismatch(file: "m.safetensors", tensor: "model.layers.0.self_attn.k_proj.weight",
                                                      expected: [32, 64], found: [64, 64])) {
            try ModelLoader.build(spec, from: wrong)
        }
        #expect(throws: CheckpointError.self) { try Self.load(RepositoryPaths.fixture("models/digits-mlp")) }
        #expect(try ModelLoader.endOfSequenceTokens(path: Self.folder) == [2])
    }
}
