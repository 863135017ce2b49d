import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// Loads a Llama-family model for decoding (`generate`, `serve`, `bench llm-runtime`) on the
/// engine asked for:
/// - `auto`: a GGUF file holding block-coded matrices loads lean (`GGMLDecoding.loadModel`: no
///   Float32 copy of the packed matrices); a compressed folder with ggml codes runs them packed,
///   one with nanoforge's own int8/int4 codes runs those (`PackedDecoding`); anything else runs dense;
/// - `runtime`: the same, but a model without packed matrices is an error;
/// - `dense`: Float32 weights dequantized at load.
public enum LlamaRuntimeLoader {
    public enum Engine: String, Sendable, CaseIterable { case auto, runtime, dense }

    /// The model, and what the packed runtime installed (nil: the dense path runs).
    public static func load(path: String, engine: Engine, kernels: KernelSet = .current) throws -> (model: LlamaModel, report: GGMLDecoding.Report?) {
        if engine != .dense, try ModelLoader.isGGUF(path) {
            let file = try GGUFFile.read(path: path)
            if engine == .runtime || GGMLDecoding.holdsPackedMatrices(file) {
                let (model, report) = try GGMLDecoding.loadModel(file: file, kernels: kernels)
                return (model, report)
            }
        }
        let packed = try PackedModel.load(path: path)
        guard let llama = packed.model.as(LlamaModel.self) else {
            throw RuntimeError.unsupported(file: path, what: packed.model.architecture.name, reason: "not a Llama-family model")
        }
        return (llama, try install(on: llama, path: path, codes: packed.ggmlQuantized, quantized: packed.quantized, engine: engine))
    }

    /// The packed runtime under an already loaded `llama` when `engine` asks for it (a GGUF file's
    /// blocks, a compressed folder's ggml `codes`, or else its own int8/int4 `quantized` matrices);
    /// nil when the dense path runs.
    public static func install(on llama: LlamaModel, path: String, codes: [String: GGMLQuantizedTensor],
                               quantized: [String: QuantizedTensor] = [:],
                               engine: Engine, kernels: KernelSet = .current) throws -> GGMLDecoding.Report? {
        guard engine != .dense else { return nil }
        if try ModelLoader.isGGUF(path) {
            let file = try GGUFFile.read(path: path)
            guard engine == .runtime || GGMLDecoding.holdsPackedMatrices(file) else { return nil }
            return try GGMLDecoding.install(on: llama, file: file, kernels: kernels)
        }
        if codes.isEmpty, !quantized.isEmpty {
            return try PackedDecoding.install(on: llama, quantized: quantized, folder: path, kernels: kernels)
        }
        guard !codes.isEmpty else {
            if engine == .runtime {
                throw RuntimeError.unsupported(file: path, what: "--engine runtime", reason: "needs a GGUF file or a folder with ggml or int8/int4 codes; use the dense engine")
            }
            return nil
        }
        return try GGMLDecoding.install(on: llama, codes: codes, folder: path, kernels: kernels)
    }
}
