import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoRuntime

/// How `--engine` of `generate` and `eval` (language-model tasks) picks a Llama's matrices: auto
/// and runtime put a GGUF file's quantized matrices, or a compressed folder's ggml codes, under the
/// packed runtime (`GGMLDecoding`, llama.cpp's arithmetic); dense keeps the Float32 weights.
enum GGMLDecodingOption {
    /// The packed runtime under `llama` when `engine` asks for it; nil when the dense path runs.
    static func install(on llama: LlamaModel, path: String, codes: [String: GGMLQuantizedTensor],
                        engine: EngineOption) throws -> GGMLDecoding.Report? {
        guard engine != .dense else { return nil }
        do {
            if try ModelLoader.isGGUF(path) {
                let file = try GGUFFile.read(path: path)
                guard engine == .runtime || GGMLDecoding.holdsPackedMatrices(file) else { return nil }
                return try GGMLDecoding.install(on: llama, file: file)
            }
            guard !codes.isEmpty else {
                if engine == .runtime { throw CLIErrors.BadInput("\(path): --engine runtime needs a GGUF file or a folder with ggml codes; use --engine dense") }
                return nil
            }
            return try GGMLDecoding.install(on: llama, codes: codes, folder: path)
        } catch let e as RuntimeError {
            throw CLIErrors.BadInput(e.description)
        }
    }
}
