import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor
import TestSupport

/// Writes the output folders that `scripts/interop/check_gguf_codes.sh` (`make interop`) exports
/// and checks against gguf-py and llama.cpp; it runs only with `NANOFORGE_INTEROP_OUT` set (the
/// folder to write into), so `make test` skips it. Each folder holds ggml codes made by
/// `GGMLQuantizedTensor.roundToNearest`, as a quantize stage on ggml types stores them:
/// - `tiny-llama-mixed`: `TinyLlamaCodes` (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q6_K);
/// - `smollm2-mixed` (when set-up's SmolLM2-135M-Instruct GGUF is present): Q4_0 on attention,
///   Q4_K on `ffn_down` (rows of 1536), Q8_0 on the tied embedding; gate and up keep no codes.
@Suite struct GGUFInteropFolders {
    static let out = ProcessInfo.processInfo.environment["NANOFORGE_INTEROP_OUT"]
    static let smolLM2 = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")

    @Test(.enabled(if: out != nil)) func writeInteropFolders() throws {
        let out = try #require(Self.out)
        let (tiny, tinyCodes) = try TinyLlamaCodes.make()
        try TinyLlamaCodes.writeFolder(out + "/tiny-llama-mixed", model: tiny, codes: tinyCodes, tokenizer: try TinyLlamaCodes.tokenizer())

        guard FileManager.default.fileExists(atPath: Self.smolLM2) else { return }
        let model = try ModelLoader.load(path: Self.smolLM2, as: LlamaModel.self)
        var codes: [String: GGMLQuantizedTensor] = [:]
        for (name, variable) in model.namedParameters where name.hasSuffix(".weight") {
            let layer = String(name.dropLast(".weight".count))
            let type: GGUFTensorType
            if layer.contains(".self_attn.") { type = .q4_0 }
            else if layer.hasSuffix(".mlp.down_proj") { type = .q4_K }
            else if layer == "model.embed_tokens" { type = .q8_0 }
            else { continue }
            let q = try GGMLQuantizedTensor.roundToNearest(variable.value, as: type)
            variable.value = q.dequantized()
            codes[layer] = q
        }
        try TinyLlamaCodes.writeFolder(out + "/smollm2-mixed", model: model, codes: codes,
                                       tokenizer: try ByteLevelBPETokenizer(contentsOf: Self.smolLM2))
    }
}
