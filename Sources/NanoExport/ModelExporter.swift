import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant

/// Exports a compressed model to a deployable format: a model folder (a `nanoforge compress`
/// output, or any checkpoint nanoforge loads) behind `nanoforge export`, or the compressed model
/// the pipeline hands over in memory behind a recipe's `output.formats`.
public enum ModelExporter {
    public enum Format: String, CaseIterable, Sendable {
        case safetensors, hdf5, onnx, gguf, c, tflite

        /// The file name a recipe's output folder gets for this format.
        public var fileName: String {
            switch self {
            case .safetensors: return "model.safetensors"
            case .hdf5: return "model.h5"
            case .onnx: return "model.onnx"
            case .gguf: return "model.gguf"
            case .c: return "c"
            case .tflite: return "model.tflite"
            }
        }
    }

    /// The model at `path` as exporters take it, with its stored (packed) tensors and provenance:
    /// the recipe, source digest and final metrics recorded by `compress` (for a plain
    /// checkpoint, its own digest and no metrics), and the `vocab.txt` of a sentence encoder.
    public static func source(path: String) throws -> (source: ExportSource, store: TensorStore) {
        let loaded = try PackedModel.load(path: path)
        let (weights, _) = try ModelLoader.locateWeights(path)
        var vocabulary: [String]?
        var tokenizer: ByteLevelBPETokenizer?
        switch loaded.model.architecture.inputAdapter {
        case .wordPiece: vocabulary = try SentenceEncoder(loaded.model, path: path).tokenizer.vocabulary
        case .byteLevelBPE: tokenizer = try ByteLevelBPETokenizer(contentsOf: path)
        default: break
        }
        let digest = try loaded.store.metadata["nanoforge.source_sha256"] ?? SHA256.hex(file: weights)
        return (exportSource(loaded, vocabulary: vocabulary, tokenizer: tokenizer, sourceSHA256: digest), loaded.store)
    }

    /// The compressed model the pipeline hands over in memory, as `source(path:)` would read it
    /// back from the folder just written: the same model, packed layers, vocabulary and provenance.
    public static func source(_ compressed: CompressedModel) throws -> (source: ExportSource, store: TensorStore) {
        let meta = compressed.packed.store.metadata
        guard let digest = meta["nanoforge.source_sha256"] else {
            throw CheckpointError.invalidConfig(file: compressed.packed.store.source, field: "nanoforge.source_sha256",
                                                reason: "a compressed model records the digest of its source checkpoint")
        }
        var source = exportSource(compressed.packed, vocabulary: compressed.vocabulary, tokenizer: compressed.tokenizer, sourceSHA256: digest)
        source.integerCNN = compressed.integerCNN
        return (source, compressed.packed.store)
    }

    /// The exporters' view of a packed model: its provenance from the store's metadata.
    static func exportSource(_ packed: PackedModel, vocabulary: [String]?, tokenizer: ByteLevelBPETokenizer?, sourceSHA256: String) -> ExportSource {
        let meta = packed.store.metadata
        let provenance = Provenance(recipe: meta["nanoforge.recipe"] ?? "", sourceSHA256: sourceSHA256,
                                    metrics: meta["nanoforge.metrics"].flatMap(MetricsJSON.decode) ?? [:])
        return ExportSource(model: packed.model, vocabulary: vocabulary, quantized: packed.quantized,
                            ggmlQuantized: packed.ggmlQuantized, tokenizer: tokenizer, activations: packed.activations, provenance: provenance)
    }

    /// Writes the model at `path` in `format` to `output` (atomically). `ggufType` picks the GGUF
    /// tensor type of weight matrices without ggml codes (layers with codes keep theirs);
    /// `ggufReference` also writes, as F32 safetensors, what nanoforge decodes each GGUF tensor to
    /// (`GGUFExporter.referenceWeights`); `gzip` compresses HDF5 datasets. Returns notes for the
    /// user (fallbacks, the GGUF tensor types). `c` writes `model.h` and `model.c` into the folder
    /// `output` and needs `calibration` inputs (feature rows) for the integer activation ranges;
    /// for a Keras CNN, `evaluation` rows add the int8 model's agreement with the float one to the notes.
    /// `tflite` writes `model.tflite` (`TFLiteExporter`: the same integer models as `c`, calibrated
    /// the same way); with `tfliteReference`, also the integer reference's outputs on `evaluation`.
    @discardableResult
    public static func export(path: String, format: Format, to output: String, ggufType: GGUFTensorType = GGUFExporter.defaultType,
                              ggufReference: String? = nil, gzip: Int? = nil, calibration: [[Float]]? = nil,
                              evaluation: [[Float]]? = nil, tfliteReference: String? = nil) throws -> [String] {
        // A GGUF file to GGUF is re-encoded tensor by tensor, as llama-quantize does: its metadata
        // (tokenizer, hyper-parameters) carries over whatever the architecture.
        if format == .gguf, path.hasSuffix(".gguf") {
            return try GGUFRequantizer.requantize(input: path, to: output, type: ggufType)
        }
        let (source, store) = try self.source(path: path)
        if format == .gguf, let ggufReference {
            try SafetensorsWriter.write(try GGUFExporter.referenceWeights(source, type: ggufType, path: output), to: ggufReference)
        }
        if format == .tflite {
            return try TFLiteExporter.export(source, calibration: calibration ?? [], to: output, file: path, evaluation: evaluation,
                                             reference: tfliteReference)
        }
        return try export(source, store: store, format: format, to: output, ggufType: ggufType, gzip: gzip, calibration: calibration,
                          file: path, evaluation: evaluation)
    }

    /// Writes `source` (with `store`, its stored tensors) in `format` to `output`, as
    /// `export(path:…)` does for a folder.
    @discardableResult
    public static func export(_ source: ExportSource, store: TensorStore, format: Format, to output: String,
                              ggufType: GGUFTensorType = GGUFExporter.defaultType, gzip: Int? = nil, calibration: [[Float]]? = nil,
                              file: String? = nil, evaluation: [[Float]]? = nil) throws -> [String] {
        switch format {
        case .safetensors:
            try SafetensorsWriter.write(withProvenance(store, source.provenance), to: output)
            return []
        case .hdf5:
            try HDF5CheckpointWriter.write(withProvenance(store, source.provenance), to: output, gzipLevel: gzip)
            return []
        case .onnx:
            try ONNXExporter.export(source, to: output)
            return []
        case .gguf:
            let summary = try GGUFExporter.export(source, to: output, type: ggufType)
            return summary.notes + summary.typeTable.map { "tensor type \($0)" }
        case .c:
            guard let calibration = calibration ?? (source.integerCNN == nil ? nil : []) else {
                throw ExportError.unsupportedFormat("c", reason: "needs calibration inputs for the activation ranges (--calibration FILE, or the recipe's data.calibration)")
            }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let summary = try CExporter.export(source, calibration: calibration, to: output, file: file, evaluation: evaluation)
            return summary.notes + ["flash \(summary.flashBytes) bytes, RAM \(summary.ramBytes) bytes"]
        case .tflite:
            return try TFLiteExporter.export(source, calibration: calibration ?? [], to: output, file: file, evaluation: evaluation)
        }
    }

    /// What a `Pipeline` calls with its finished output folder and the compressed model in
    /// memory: writes each of `formats` (a recipe's `output.formats`) other than safetensors beside
    /// `model.safetensors` (`model.h5`, `model.onnx`, `model.gguf` with each layer's ggml codes as
    /// they are and the other matrices as Q8_0, `c/model.h` +
    /// `c/model.c` and `model.tflite` calibrated on `calibration`), without reading the folder back.
    public static func write(_ compressed: CompressedModel, formats: [String], calibration: [[Float]]?, into folder: String) throws {
        let kinds = try formats.filter { $0 != Format.safetensors.rawValue }.map { name in
            guard let kind = Format(rawValue: name) else { throw ExportError.unsupportedFormat(name, reason: "no exporter of that name") }
            return kind
        }
        guard !kinds.isEmpty else { return }
        let (source, store) = try self.source(compressed)
        for kind in kinds {
            try export(source, store: store, format: kind, to: (folder as NSString).appendingPathComponent(kind.fileName),
                       calibration: calibration)
        }
    }

    /// The stored tensors with the provenance keys added to the metadata.
    static func withProvenance(_ store: TensorStore, _ provenance: Provenance) -> TensorStore {
        var metadata = store.metadata
        for (key, value) in provenance.keyValues { metadata[key] = value }
        return TensorStore(tensors: store.tensors, metadata: metadata)
    }
}

/// A format or model an exporter cannot handle.
public enum ExportError: Error, CustomStringConvertible, Equatable {
    case unsupportedFormat(String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedFormat(let f, let reason): return "export to \(f): \(reason)"
        }
    }
}
