import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoRuntime

/// Why `serve` cannot serve a model it was given.
public enum ServeError: Error, CustomStringConvertible, Equatable {
    case badModelArgument(String, reason: String)
    case duplicateName(String)
    case unsupported(path: String, reason: String)

    public var description: String {
        switch self {
        case .badModelArgument(let argument, let reason): return "model argument '\(argument)': \(reason)"
        case .duplicateName(let name): return "two models are named '\(name)'; give one an alias (ALIAS=PATH)"
        case .unsupported(let path, let reason): return "\(path): \(reason)"
        }
    }
}

extension ServedModel {
    /// `ALIAS=PATH` or `PATH` (the alias is then the folder's or file's base name, without a
    /// `.gguf`/`.safetensors` extension).
    public static func parseArgument(_ argument: String) throws -> (name: String, path: String) {
        if let eq = argument.firstIndex(of: "="), !FileManager.default.fileExists(atPath: argument) {
            let name = String(argument[..<eq]), path = String(argument[argument.index(after: eq)...])
            guard !name.isEmpty, !path.isEmpty else { throw ServeError.badModelArgument(argument, reason: "expected ALIAS=PATH") }
            return (name, path)
        }
        var base = (argument.hasSuffix("/") ? String(argument.dropLast()) : argument) as NSString
        base = base.lastPathComponent as NSString
        for ext in ["gguf", "safetensors"] where base.pathExtension == ext { base = base.deletingPathExtension as NSString }
        guard base.length > 0 else { throw ServeError.badModelArgument(argument, reason: "no model name in the path") }
        return (base as String, argument)
    }

    /// Loads the model at `path` as an encoder (BERT sentence encoders, on `RuntimeEncoder`) or a
    /// decoder (Llama family; a GGUF file's quantized matrices, or a compressed folder's ggml
    /// codes, run on the packed runtime as `generate --engine auto` runs them). A decoder needs its
    /// tokenizer (GGUF metadata or tokenizer.json). `kernel`, `maxBatch` and `batchWindow` apply
    /// to encoders (`RuntimeKernel`, `EmbeddingBatcher`).
    public static func load(name: String, path: String, maxConcurrency: Int = 64, kernel: RuntimeKernel = .standard,
                            maxBatch: Int = 32, batchWindow: Duration = .milliseconds(2)) throws -> ServedModel {
        if try !ModelLoader.isGGUF(path) {
            let (weights, configPath) = try ModelLoader.locateWeights(path)
            let store = try CheckpointReader.read(path: weights)
            let spec = try ModelLoader.spec(of: store, configPath: configPath)
            if spec.configuration(as: BertEncoder.Configuration.self) != nil {
                return .encoder(ServedEncoder(name: name, encoder: try RuntimeEncoder.load(path: path, kernel: kernel), maxConcurrency: maxConcurrency,
                                              window: batchWindow, maxBatch: maxBatch))
            }
            guard spec.configuration(as: LlamaConfiguration.self) != nil else {
                throw ServeError.unsupported(path: path, reason: "architecture '\(spec.architectureName)': serve runs BERT sentence encoders and Llama-family decoders")
            }
        }
        // As `generate --engine auto`: a GGUF file's block-coded matrices load lean and run packed
        // (no Float32 copies), a compressed folder's ggml codes run packed.
        let llama: LlamaModel
        do { llama = try LlamaRuntimeLoader.load(path: path, engine: .auto).model } catch let e as RuntimeError {
            throw ServeError.unsupported(path: path, reason: e.description)
        }
        guard let codec = try GenerationTokenizer.load(model: path) else {
            throw ServeError.unsupported(path: path, reason: "no tokenizer (GGUF tokenizer.ggml.* metadata or tokenizer.json) to serve text with")
        }
        let stops = try ModelLoader.endOfSequenceTokens(path: path)
        return .decoder(ServedDecoder(name: name, model: llama, codec: codec, stopTokens: stops, maxConcurrency: maxConcurrency))
    }
}
