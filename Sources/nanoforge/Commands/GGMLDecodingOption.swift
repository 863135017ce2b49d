import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoRuntime

/// How `--engine` of `generate` and `eval` (language-model tasks) picks a Llama's matrices
/// (`LlamaRuntimeLoader`): auto and runtime put a GGUF file's quantized matrices, or a compressed
/// folder's ggml codes, under the packed runtime (`GGMLDecoding`, llama.cpp's arithmetic); dense
/// keeps the Float32 weights.
enum GGMLDecodingOption {
    static func engine(_ option: EngineOption) -> LlamaRuntimeLoader.Engine {
        switch option { case .auto: return .auto; case .runtime: return .runtime; case .dense: return .dense }
    }

    /// The Llama model at `path` loaded for decoding on `engine`, and what the packed runtime installed.
    static func load(path: String, engine: EngineOption) throws -> (model: LlamaModel, report: GGMLDecoding.Report?) {
        do { return try LlamaRuntimeLoader.load(path: path, engine: Self.engine(engine)) } catch let e as RuntimeError {
            throw CLIErrors.BadInput(e.description)
        }
    }

    /// The packed runtime under `llama` when `engine` asks for it; nil when the dense path runs.
    static func install(on llama: LlamaModel, path: String, codes: [String: GGMLQuantizedTensor],
                        quantized: [String: QuantizedTensor] = [:], engine: EngineOption) throws -> GGMLDecoding.Report? {
        do { return try LlamaRuntimeLoader.install(on: llama, path: path, codes: codes, quantized: quantized, engine: Self.engine(engine)) } catch let e as RuntimeError {
            throw CLIErrors.BadInput(e.description)
        }
    }
}
