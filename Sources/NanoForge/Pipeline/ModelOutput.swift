import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// Writes a compressed run's folder:
/// - `model.safetensors` + `config.json` + `vocab.txt`: the model with its weights as evaluated
///   (quantized layers dequantized to F32), which `nanoforge embed/inspect` and `ModelLoader` read;
/// - `packed.safetensors`: the same model with quantized layers stored packed (`<layer>.qweight`
///   U8 codes, `<layer>.scales`, `<layer>.zero_points`; the scheme of each in `__metadata__`);
/// - `recipe.yaml`, `report.json`, `report.md`, `report.html`.
/// Everything is written into a temporary folder beside the target and renamed into place last.
struct ModelOutput {
    let recipe: Recipe
    let state: CompressionState
    let report: CompressionReport

    func write(to directory: String) throws {
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        let parent = target.deletingLastPathComponent()
        let pid = ProcessInfo.processInfo.processIdentifier
        let temp = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(pid)")
        let fm = FileManager.default
        do {
            try? fm.removeItem(at: temp)
            try fm.createDirectory(at: temp, withIntermediateDirectories: true)
            try writeFiles(into: temp.path)
            if fm.fileExists(atPath: target.path) {
                let old = parent.appendingPathComponent(".\(target.lastPathComponent).old-\(pid)")
                try fm.moveItem(at: target, to: old)
                try fm.moveItem(at: temp, to: target)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temp, to: target)
            }
        } catch {
            try? fm.removeItem(at: temp)
            throw PipelineError.stageFailed(recipe: recipe.file, stage: "output.dir", reason: "cannot write \(directory): \(error)")
        }
    }

    func writeFiles(into folder: String) throws {
        let config = state.model.spec.nativeJSON.serialized
        let metadata = ["nanoforge.config": config, "nanoforge.recipe": recipe.text, "nanoforge.version": NanoForgeVersion.string]
        let dense = state.model.container.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }
        try SafetensorsWriter.write(TensorStore(tensors: dense, metadata: metadata), to: folder + "/model.safetensors")
        try SafetensorsWriter.write(packedStore(metadata: metadata), to: folder + "/packed.safetensors")
        try AtomicFile.write(Data(config.utf8), to: folder + "/config.json")
        if case .sentenceEncoder(let encoder) = state.model {
            try AtomicFile.write(Data((encoder.tokenizer.vocabulary.joined(separator: "\n") + "\n").utf8), to: folder + "/vocab.txt")
        }
        try AtomicFile.write(Data(recipe.text.utf8), to: folder + "/recipe.yaml")
        _ = try report.write(to: folder)
    }

    func packedStore(metadata: [String: String]) -> TensorStore {
        var meta = metadata
        var tensors: [StoredTensor] = []
        for (name, variable) in state.model.container.namedParameters {
            let layer = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
            guard let q = state.quantized[layer] else {
                tensors.append(StoredTensor.encoding(variable.value, name: name))
                continue
            }
            tensors.append(StoredTensor(name: layer + ".qweight", dtype: .u8, shape: [q.packed.count], data: Data(q.packed)))
            let scales = Tensor(shape: [q.scales.count], scalars: q.scales)
            tensors.append(StoredTensor.encoding(scales, name: layer + ".scales", as: q.scaleFormat == .float16 ? .f16 : .f32))
            if let zeros = q.zeroPoints {
                tensors.append(StoredTensor.encoding(integers: zeros.map(Int64.init), shape: [zeros.count], name: layer + ".zero_points", as: .i32))
            }
            meta["nanoforge.quantized." + layer] = "{\"shape\":\(q.shape),\"scheme\":\"\(q.scheme)\",\"bits\":\(q.scheme.bits),\"symmetric\":\(q.scheme.symmetric)}"
        }
        return TensorStore(tensors: tensors, metadata: meta)
    }
}
