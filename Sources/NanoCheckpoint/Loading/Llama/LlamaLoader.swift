import Foundation
import NanoModels
import NanoTensor

/// Builds a `LlamaModel` from a GGUF file (`general.architecture` llama) or from a Hugging Face
/// folder (`config.json` of `LlamaForCausalLM` / `Qwen2ForCausalLM` + `model.safetensors`),
/// checking every tensor by name and shape.
public enum LlamaLoader {
    /// Tensors a Hugging Face checkpoint may carry that are buffers, not parameters.
    static func isBuffer(_ name: String) -> Bool { name.hasSuffix("rotary_emb.inv_freq") }

    /// A GGUF file, a model folder, or a safetensors file with a `config.json` beside it.
    public static func load(path: String) throws -> LlamaModel {
        if try isGGUF(path) { return try load(gguf: try GGUFFile.read(path: path)) }
        let (weights, configPath) = try ModelLoader.locateWeights(path)
        guard let configPath else {
            throw CheckpointError.invalidConfig(file: weights, field: "config", reason: "no config.json beside the weights")
        }
        let configuration = try readConfiguration(configPath)
        return try load(store: try CheckpointReader.read(path: weights), configuration: configuration)
    }

    /// Whether `path` is a file that starts with GGUF's magic.
    public static func isGGUF(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.unreadable(file: path, reason: "no such file or folder")
        }
        guard !isDirectory.boolValue, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map { [UInt8]($0) == GGUFFile.magic } ?? false
    }

    /// The Llama configuration in a Hugging Face `config.json`; an error when the file is another
    /// model type.
    public static func readConfiguration(_ path: String) throws -> LlamaConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.unreadable(file: path, reason: "cannot read") }
        let json: JSONValue
        do { json = try JSONParser.parse([UInt8](data)) } catch let e as JSONParser.Error {
            throw CheckpointError.invalidConfig(file: path, field: "(root)", reason: "invalid JSON: \(e.description)")
        }
        guard let c = try LlamaConfiguration.huggingFace(json, file: path) else {
            let found = json["model_type"]?.string.map { "'\($0)'" } ?? "none"
            throw CheckpointError.invalidConfig(file: path, field: "model_type",
                                                reason: "\(found) is not a Llama-family model (expected one of \(LlamaConfiguration.huggingFaceModelTypes.sorted()))")
        }
        return c
    }

    /// Fills a model from Hugging Face-named tensors. A missing, wrongly shaped or extra tensor is
    /// an error naming it (a tied model's stored `lm_head.weight` copy and rotary buffers are skipped).
    public static func load(store: TensorStore, configuration c: LlamaConfiguration) throws -> LlamaModel {
        var rng = RandomGenerator(seed: 0)
        let model = LlamaModel(c, rng: &rng)
        var used = Set<String>()
        for (name, variable) in model.namedParameters {
            guard let t = store[name] else { throw CheckpointError.missingTensor(file: store.source, tensor: name) }
            guard t.shape == variable.shape else {
                throw CheckpointError.shapeMismatch(file: store.source, tensor: name, expected: variable.shape, found: t.shape)
            }
            guard t.dtype.isFloatingPoint else {
                throw CheckpointError.invalidTensor(file: store.source, tensor: name, reason: "\(t.dtype.rawValue) weights where a float type is expected")
            }
            variable.value = t.floatTensor()
            used.insert(name)
        }
        for name in store.names where !used.contains(name) && !isBuffer(name) && !(c.tiedEmbeddings && name == "lm_head.weight") {
            throw CheckpointError.unexpectedTensor(file: store.source, tensor: name)
        }
        return model
    }

    /// Fills a model from a GGUF file: names through `LlamaTensorNames`, every tensor dequantized to
    /// Float32, query and key rows put back in Hugging Face's order.
    public static func load(gguf file: GGUFFile) throws -> LlamaModel {
        guard let c = try LlamaConfiguration.gguf(file) else {
            let found = file["general.architecture"]?.string.map { "'\($0)'" } ?? "none"
            throw CheckpointError.invalidConfig(file: file.path, field: "general.architecture", reason: "\(found) is not llama")
        }
        var rng = RandomGenerator(seed: 0)
        let model = LlamaModel(c, rng: &rng)
        var used = Set<String>()
        for (name, variable) in model.namedParameters {
            guard let entry = LlamaTensorNames.entry(huggingFace: name) else {
                throw CheckpointError.invalidTensor(file: file.path, tensor: name, reason: "no GGUF name for this parameter")
            }
            guard let info = file.tensorInfo(entry.gguf) else { throw CheckpointError.missingTensor(file: file.path, tensor: entry.gguf) }
            guard info.shape == variable.shape else {
                throw CheckpointError.shapeMismatch(file: file.path, tensor: entry.gguf, expected: variable.shape, found: info.shape)
            }
            var t = Tensor(shape: info.shape, scalars: try file.floatValues(entry.gguf))
            switch entry.permutation {
            case .queryHeads: t = LlamaTensorNames.unpermute(t, heads: c.heads)
            case .keyHeads: t = LlamaTensorNames.unpermute(t, heads: c.kvHeads)
            case nil: break
            }
            variable.value = t
            used.insert(entry.gguf)
        }
        for info in file.tensors where !used.contains(info.name) {
            throw CheckpointError.unexpectedTensor(file: file.path, tensor: info.name)
        }
        return model
    }
}

extension LlamaLoader {
    /// The end-of-sequence token ids a model declares: GGUF's `tokenizer.ggml.eos_token_id`
    /// (and `tokenizer.ggml.eot_token_id`), or `eos_token_id` (a number or a list) in the
    /// `config.json` / `generation_config.json` of a Hugging Face folder. Empty when none is given.
    public static func endOfSequenceTokens(path: String) throws -> Set<Int> {
        if try isGGUF(path) {
            let file = try GGUFFile.read(path: path)
            return Set(["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"].compactMap { file[$0]?.integer })
        }
        let (weights, configPath) = try ModelLoader.locateWeights(path)
        let folder = (weights as NSString).deletingLastPathComponent
        var ids = Set<Int>()
        for file in [configPath, (folder as NSString).appendingPathComponent("generation_config.json")].compactMap({ $0 }) {
            guard let data = FileManager.default.contents(atPath: file), let json = try? JSONParser.parse([UInt8](data)),
                  let eos = json["eos_token_id"] else { continue }
            if let id = eos.int { ids.insert(id) }
            ids.formUnion(eos.array?.compactMap(\.int) ?? [])
        }
        return ids
    }
}
