import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor
@testable import NanoServe

/// Tiny models written to a temporary folder as a user would give them to `serve`: a random
/// Llama with a byte-level BPE tokenizer (256 byte tokens, ChatML specials and template) and a
/// random BERT sentence encoder with a WordPiece vocabulary.
enum ServeFixtures {
    static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    static let chatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    static let words = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away", "quick", "brown", "fox", "jumps", "over", "lazy"]

    static func tokenizer() throws -> ByteLevelBPETokenizer {
        let tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) } + specials
        var d = BPETokenizerDescription(source: "serve-test-bpe", tokens: tokens, merges: [], preTokenizer: .gpt2)
        d.addedTokens = specials.indices.map { (id: 256 + $0, special: true) }
        d.eosID = 258
        d.paddingID = 256
        d.chatTemplate = chatTemplate
        return try ByteLevelBPETokenizer(d)
    }

    /// `folder/llama` (safetensors, native config.json, tokenizer.json) and `folder/bert`.
    static func write(to folder: String) throws -> (decoder: String, encoder: String) {
        let llama = folder + "/llama", bert = folder + "/bert"
        for f in [llama, bert] { try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true) }
        var rng = RandomGenerator(seed: 17)
        let c = LlamaConfiguration(vocabularySize: 259, width: 32, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 48, contextLength: 96)
        let model = LlamaModel(c, rng: &rng)
        // Weights large enough that the next-token distribution is far from uniform.
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: llama + "/model.safetensors")
        try ModelSpec.llama(c).nativeJSON.serialized.write(toFile: llama + "/config.json", atomically: true, encoding: .utf8)
        try tokenizer().write(toFolder: llama)

        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        // Head width 16: the runtime's SIMD attention (head widths that are multiples of 8, as
        // MiniLM's 32), whose rows do not depend on the batch's padding. (Its sgemm fallback for
        // other head widths is not batch-invariant: OpenBLAS picks kernels by the padded size.)
        let bc = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 32, layers: 2, heads: 2, intermediateWidth: 48, maxPositions: 32)
        let encoder = BertEncoder(bc, rng: &rng)
        try SafetensorsWriter.write(TensorStore(tensors: encoder.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: bert + "/model.safetensors")
        try ModelSpec.bert(bc).nativeJSON.serialized.write(toFile: bert + "/config.json", atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(toFile: bert + "/vocab.txt", atomically: true, encoding: .utf8)
        return (llama, bert)
    }

    /// The same kind of BERT with every encoder Linear quantized to int8 (RTN, per channel) and
    /// packed, in `folder`: on the integer kernels (`RuntimeKernel.integer`) a sentence's
    /// embedding has the same bits in any batch.
    static func writePackedEncoder(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = RandomGenerator(seed: 29)
        let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
        let bc = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 32, layers: 2, heads: 2, intermediateWidth: 48, maxPositions: 32)
        let bert = BertEncoder(bc, rng: &rng)
        var quantized: [String: QuantizedTensor] = [:]
        for p in bert.namedParameters where p.name.hasPrefix("encoder.") && p.name.hasSuffix(".weight") && p.variable.value.rank == 2 {
            quantized[String(p.name.dropLast(".weight".count))] = try RTN.quantize(p.variable.value, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
        }
        let metadata = ["nanoforge.config": ModelSpec.bert(bc).nativeJSON.serialized]
        let store = try PackedCheckpoint.pack(parameters: bert.namedParameters.map { (name: $0.name, value: $0.variable.value) },
                                              quantized: quantized, metadata: metadata, file: folder)
        try SafetensorsWriter.write(store, to: folder + "/model.safetensors")
        try vocabulary.joined(separator: "\n").write(toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
    }

    /// A fresh temporary folder (removed by `remove`).
    static func temporaryFolder() throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nanoforge-serve-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The tiny decoder ("tiny-llama") and encoder ("tiny-bert") loaded as `serve` loads them.
    static func models(maxConcurrency: Int = 8) throws -> (decoder: ServedDecoder, encoder: ServedEncoder) {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = try write(to: folder)
        guard case .decoder(let d) = try ServedModel.load(name: "tiny-llama", path: paths.decoder, maxConcurrency: maxConcurrency),
              case .encoder(let e) = try ServedModel.load(name: "tiny-bert", path: paths.encoder, maxConcurrency: maxConcurrency) else {
            throw APIError(status: 0, message: "fixture models loaded as the wrong kind")
        }
        return (d, e)
    }
}
