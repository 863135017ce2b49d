import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime

/// `--engine` of `embed` and `eval`: which implementation computes the embeddings.
enum EngineOption: String, ExpressibleByArgument, CaseIterable {
    /// The packed runtime when the model stores packed layers, else the fp32 model.
    case auto
    /// The packed runtime (NanoRuntime), whatever the checkpoint.
    case runtime
    /// The fp32 model (`PackedModel` dequantizes packed layers).
    case dense

    static let help = ArgumentHelp("Engine: auto (the packed int8/int4 runtime for models with packed layers, else fp32; for perplexity and kl_divergence, a GGUF file's quantized matrices or a folder's ggml codes on their packed blocks), runtime, dense.")

    /// The sentence encoder at `path` on this engine, and the evaluation form of it. An
    /// approximate `kernel` is announced on stderr; it needs the runtime.
    func load(_ path: String, maxLength: Int = 256, kernel: RuntimeKernel = .standard) throws -> EvaluatedModel {
        let useRuntime = self == .runtime || (self == .auto && RuntimeEncoder.holdsPackedLayers(path: path))
        guard useRuntime else {
            if kernel.approximates {
                throw CLIErrors.BadInput("--kernel \(kernel.rawValue) runs on the packed runtime; \(path) is evaluated by the fp32 engine (use --engine runtime)")
            }
            return .sentenceEncoder(try SentenceEncoder.load(path: path, maxLength: maxLength))
        }
        if let note = kernel.approximationNote { FileHandle.standardError.write(Data("note: \(path): \(note)\n".utf8)) }
        let encoder = try RuntimeEncoder.load(path: path, maxLength: maxLength, kernel: kernel)
        return .sentenceEmbedding(encoder, .bert(encoder.configuration))
    }
}

/// `--kernel` of `embed` and `eval`: the runtime's GEMM choice (`RuntimeKernel`).
extension RuntimeKernel: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }

    static let help = ArgumentHelp(
        "Runtime kernels: scheme (what the model's stored quantization computes: float activations for weight-only layers, int8 × int8 for dynamic per-token activations), dequant, or the approximate s8s8-8bit / u8s8-7bit (quantize every int8 layer's activations per token).")
}
