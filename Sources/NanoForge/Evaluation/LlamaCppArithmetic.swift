import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// `nanoforge eval --llama-cpp-arithmetic`: evaluation that rounds each ggml-typed matrix's input
/// as llama.cpp's CPU backend does (`GGMLDotProductInput`: Q8_0 blocks for Q4_0…Q8_0 and IQ4_NL,
/// Q8_K for the K-quants, F16 for F16), so a perplexity is llama-perplexity's up to summation order.
/// Not modelled: the F16 key/value cache and F16 attention products of llama.cpp's attention.
public enum LlamaCppArithmetic {
    /// Each stored matrix's ggml type by the model's parameter path: from a GGUF file's header
    /// (through the family's stored-name map), else the layers a compressed folder holds as ggml
    /// codes (`layerTypes`, by layer name; the folder's other matrices are Float32).
    public static func weightTypes(modelPath: String, layerTypes: [String: GGUFTensorType]) throws -> [String: GGUFTensorType] {
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: modelPath, isDirectory: &isFolder)
        guard exists, !isFolder.boolValue, try ModelLoader.isGGUF(modelPath) else {
            return Dictionary(uniqueKeysWithValues: layerTypes.map { ($0.key + ".weight", $0.value) })
        }
        let file = try GGUFFile.read(path: modelPath)
        let spec = try ModelSpec.recognising(file.configSource)
        let map = spec.tensorNames(convention: .gguf, storedNames: Set(file.tensors.map(\.name)))
        var types: [String: GGUFTensorType] = [:]
        for info in file.tensors where !map.isIgnored(info.name) {
            types[map.parameter(forStored: info.name).path] = info.type
        }
        return types
    }

    /// Installs the rounding on every Linear (and a Llama's tied head) whose weight type has one;
    /// returns how many matrices' inputs each rounding applies to, e.g. "Q8_0: 90, Q8_K: 30".
    @discardableResult
    public static func install(on model: ParameterContainer, weightTypes: [String: GGUFTensorType]) -> String {
        var counts: [GGMLDotProductInput: Int] = [:]
        for (name, layer) in model.layers(of: Linear.self) {
            guard let type = weightTypes[name + ".weight"], let rounding = GGMLDotProductInput.of(weight: type) else { continue }
            layer.inputTransform = { rounding.round($0) }
            counts[rounding, default: 0] += 1
        }
        if let llama = model as? LlamaModel, llama.head == nil,
           let name = model.layers(of: Embedding.self).first(where: { $0.layer === llama.tokenEmbedding })?.name,
           let type = weightTypes[name + ".weight"], let rounding = GGMLDotProductInput.of(weight: type) {
            llama.tiedHeadInputTransform = { rounding.round($0) }
            counts[rounding, default: 0] += 1
        }
        let listed = GGMLDotProductInput.allCases.compactMap { r in counts[r].map { "\(r.rawValue): \($0)" } }
        return listed.isEmpty ? "no quantized matrices" : listed.joined(separator: ", ")
    }
}
