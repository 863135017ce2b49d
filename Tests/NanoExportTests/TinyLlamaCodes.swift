import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// A tiny random Llama (width 64, SwiGLU width 256 so `ffn_down` rows fit the K-quants' 256-blocks,
/// byte-level tokenizer of 256 byte tokens) whose layers hold ggml codes of mixed types, made by
/// `GGMLQuantizedTensor.roundToNearest` as the quantize pass would, with each coded weight set to
/// its decoded values (what nanoforge evaluates). Some matrices keep no codes.
enum TinyLlamaCodes {
    /// Layer → type: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K and Q6_K on different tensors;
    /// `model.layers.1.mlp.gate_proj` and `…1.self_attn.o_proj` have none.
    static let types: [String: GGUFTensorType] = [
        "model.embed_tokens": .q8_0, "lm_head": .q4_0,
        "model.layers.0.self_attn.q_proj": .q4_0, "model.layers.0.self_attn.k_proj": .iq4_nl,
        "model.layers.0.self_attn.v_proj": .q8_0, "model.layers.0.self_attn.o_proj": .q5_1,
        "model.layers.0.mlp.gate_proj": .q5_0, "model.layers.0.mlp.up_proj": .q4_1, "model.layers.0.mlp.down_proj": .q4_K,
        "model.layers.1.self_attn.q_proj": .iq4_nl, "model.layers.1.self_attn.k_proj": .q4_0,
        "model.layers.1.self_attn.v_proj": .q4_0, "model.layers.1.mlp.up_proj": .q8_0, "model.layers.1.mlp.down_proj": .q6_K,
    ]

    static func configuration(tied: Bool) -> LlamaConfiguration {
        LlamaConfiguration(vocabularySize: 256, width: 64, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 256,
                           contextLength: 64, ropeBase: 50_000, tiedEmbeddings: tied)
    }

    /// The model and its codes (a tied model has no `lm_head` codes).
    static func make(tied: Bool = false, seed: UInt64 = 7) throws -> (model: LlamaModel, codes: [String: GGMLQuantizedTensor]) {
        var rng = RandomGenerator(seed: seed)
        let model = LlamaModel(configuration(tied: tied), rng: &rng)
        var codes: [String: GGMLQuantizedTensor] = [:]
        for (name, variable) in model.namedParameters where name.hasSuffix(".weight") {
            let layer = String(name.dropLast(".weight".count))
            guard let type = types[layer] else { continue }
            let q = try GGMLQuantizedTensor.roundToNearest(variable.value, as: type)
            variable.value = q.dequantized()
            codes[layer] = q
        }
        return (model, codes)
    }

    /// A byte-level BPE tokenizer whose token i is byte i, with a chat template and special ids.
    static func tokenizer() throws -> ByteLevelBPETokenizer {
        var d = BPETokenizerDescription(source: "bytes", tokens: (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) },
                                        merges: [], preTokenizer: .smollm)
        d.bosID = 1
        d.eosID = 2
        d.addedTokens = [(1, true), (2, true)]
        d.chatTemplate = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        return try ByteLevelBPETokenizer(d)
    }

    /// Writes `model` as a compressed output folder does: config.json, tokenizer.json and a
    /// model.safetensors whose coded layers are stored as ggml blocks (`GGMLCheckpoint`).
    static func writeFolder(_ folder: String, model: LlamaModel, codes: [String: GGMLQuantizedTensor],
                            tokenizer: ByteLevelBPETokenizer) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = ModelSpec.llama(model.configuration).nativeJSON.serialized
        let weights = folder + "/model.safetensors"
        let store = try PackedCheckpoint.pack(parameters: model.namedParameters.map { ($0.name, $0.variable.value) }, quantized: [:],
                                              ggml: codes, metadata: ["nanoforge.config": config], file: weights)
        try SafetensorsWriter.write(store, to: weights)
        try Data(config.utf8).write(to: URL(fileURLWithPath: folder + "/config.json"))
        try tokenizer.write(toFolder: folder)
    }
}
