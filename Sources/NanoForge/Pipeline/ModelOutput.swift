import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// Writes a compressed run's folder:
/// - `model.safetensors` + `config.json` + the tokenizer (`vocab.txt`, or `tokenizer.json` and
///   `tokenizer_config.json` for byte-level BPE): the model, with quantized Linear weights
///   stored packed (`PackedCheckpoint`: `<layer>.weight.qweight`, `.scales`, `.zero_points`, the
///   scheme of each under `nanoforge.quantization` in `__metadata__`; ggml block codes as
///   `<layer>.weight.ggml`, `GGMLCheckpoint`); `PackedModel`,
///   `SentenceEncoder.load` and `nanoforge embed/eval/inspect` read it;
/// - `recipe.yaml`, `report.json`, `report.md`, `report.html`.
/// Everything is written into a temporary folder beside the target and renamed into place last.
struct ModelOutput {
    let recipe: Recipe
    let state: CompressionState
    let report: CompressionReport
    /// Writes the recipe's other `output.formats` into the finished folder before it is renamed
    /// into place (set by the CLI from NanoExport); nil refuses formats besides safetensors.
    var exporter: ((_ folder: String, _ compressed: CompressedModel, _ recipe: Recipe) throws -> Void)?

    func write(to directory: String) throws {
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        let parent = target.deletingLastPathComponent()
        let pid = ProcessInfo.processInfo.processIdentifier
        let temp = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(pid)")
        let fm = FileManager.default
        Self.removeStaleFolders(of: target)
        do {
            try? fm.removeItem(at: temp)
            try fm.createDirectory(at: temp, withIntermediateDirectories: true)
            let compressed = try writeFiles(into: temp.path)
            let extra = recipe.output.formats.filter { $0 != .safetensors }
            if !extra.isEmpty {
                guard let exporter, let compressed else {
                    throw PipelineError.stageFailed(recipe: recipe.file, stage: "output.formats",
                                                    reason: "\(extra.map(\.rawValue)) need an exporter (NanoExport's ModelExporter.write) and a model with parameters")
                }
                try exporter(temp.path, compressed, recipe)
            }
            if fm.fileExists(atPath: target.path) {
                let old = parent.appendingPathComponent(".\(target.lastPathComponent).old-\(pid)")
                try fm.moveItem(at: target, to: old)
                try fm.moveItem(at: temp, to: target)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temp, to: target)
            }
            AtomicFile.synchronizeFolder(parent.path)
        } catch {
            try? fm.removeItem(at: temp)
            throw PipelineError.stageFailed(recipe: recipe.file, stage: "output.dir", reason: "cannot write \(directory): \(error)")
        }
    }

    /// Cleans up after runs that were killed (SIGKILL, power loss) while writing `target`: removes
    /// `.NAME.partial-PID` folders and puts back a `.NAME.old-PID` folder when `target` itself is
    /// missing (a kill between the two renames), for every PID that is no longer running. Folders
    /// of live processes (a concurrent run) are left alone.
    static func removeStaleFolders(of target: URL) {
        let fm = FileManager.default
        let parent = target.deletingLastPathComponent()
        guard let names = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        let own = ProcessInfo.processInfo.processIdentifier
        for name in names.sorted() {
            for kind in ["partial", "old"] {
                let prefix = ".\(target.lastPathComponent).\(kind)-"
                guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid > 0, pid != own,
                      kill(pid, 0) != 0, errno == ESRCH else { continue }
                let stale = parent.appendingPathComponent(name)
                if kind == "old" && !fm.fileExists(atPath: target.path) {
                    try? fm.moveItem(at: stale, to: target)
                } else {
                    try? fm.removeItem(at: stale)
                }
            }
        }
    }

    /// Writes the files; returns the compressed model as written, for the exporters (nil for a
    /// model without parameters of its own).
    @discardableResult
    func writeFiles(into folder: String) throws -> CompressedModel? {
        let config = state.model.spec.nativeJSON.serialized
        var metadata = ["nanoforge.config": config, "nanoforge.recipe": recipe.text, "nanoforge.version": NanoForgeVersion.string]
        metadata[ActivationMetadata.key] = ActivationMetadata.encode(state.activationQuantization)
        // Provenance: which checkpoint this model came from, and what it scored at the end.
        metadata["nanoforge.source_sha256"] = try SHA256.hex(file: ModelLoader.locateWeights(recipe.modelPath).weights)
        if let last = report.stages.last {
            metadata["nanoforge.metrics"] = MetricsJSON.encode(last.metrics)
        }
        let weights = folder + "/model.safetensors"
        let parameters = state.model.container.namedParameters.map { (name: $0.name, value: $0.variable.value) }
        let store = try PackedCheckpoint.pack(parameters: parameters, quantized: state.quantized, ggml: state.ggmlQuantized,
                                              metadata: metadata, file: weights)
        try SafetensorsWriter.write(store, to: weights)
        try AtomicFile.write(Data(config.utf8), to: folder + "/config.json")
        try state.model.input?.writeFiles(into: folder)
        var vocabulary: [String]?
        var bpe: ByteLevelBPETokenizer?
        switch state.model.input {
        case .wordPiece(let tokenizer, _)?: vocabulary = tokenizer.vocabulary
        case .byteLevelBPE(let tokenizer)?: bpe = tokenizer
        default: break
        }
        try AtomicFile.write(Data(recipe.text.utf8), to: folder + "/recipe.yaml")
        _ = try report.write(to: folder)
        guard let model = state.model.model else { return nil }
        return CompressedModel(packed: PackedModel(model: model, quantized: state.quantized, ggmlQuantized: state.ggmlQuantized,
                                                   store: store, activations: state.activationQuantization),
                               vocabulary: vocabulary, tokenizer: bpe, integerCNN: state.integerCNN)
    }
}
