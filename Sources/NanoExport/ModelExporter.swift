import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels

/// Exports a model folder (a `nanoforge compress` output, or any checkpoint nanoforge loads) to a
/// deployable format: the one entry behind `nanoforge export` and a recipe's `output.formats`.
public enum ModelExporter {
    public enum Format: String, CaseIterable, Sendable {
        case safetensors, hdf5, onnx, gguf, c

        /// The file name a recipe's output folder gets for this format.
        public var fileName: String {
            switch self {
            case .safetensors: return "model.safetensors"
            case .hdf5: return "model.h5"
            case .onnx: return "model.onnx"
            case .gguf: return "model.gguf"
            case .c: return "c"
            }
        }
    }

    /// The model at `path` as exporters take it, with its stored (packed) tensors and provenance:
    /// the recipe and source digest recorded by `compress` (or, for a plain checkpoint, its own
    /// digest), and the final metrics of the `report.json` beside it.
    public static func source(path: String) throws -> (source: ExportSource, store: TensorStore) {
        let loaded = try PackedModel.load(path: path)
        let (weights, _) = try ModelLoader.locateWeights(path)
        let meta = loaded.store.metadata
        var vocabulary: [String]?
        if loaded.model.architecture.inputAdapter == .wordPiece {
            vocabulary = try SentenceEncoder(loaded.model, path: path).tokenizer.vocabulary
        }
        var metrics: [String: Double] = [:]
        let folder = (weights as NSString).deletingLastPathComponent
        if let report = try? CompressionReport.read(from: folder), let last = report.stages.last { metrics = last.metrics }
        let provenance = Provenance(recipe: meta["nanoforge.recipe"] ?? "",
                                    sourceSHA256: try meta["nanoforge.source_sha256"] ?? SHA256.hex(file: weights),
                                    metrics: metrics)
        return (ExportSource(model: loaded.model, vocabulary: vocabulary, quantized: loaded.quantized,
                             activations: loaded.activations, provenance: provenance),
                loaded.store)
    }

    /// Writes the model at `path` in `format` to `output` (atomically). `ggufType` picks the GGUF
    /// tensor type of weight matrices; `gzip` compresses HDF5 datasets. Returns notes for the user
    /// (fallbacks, weights stored dequantized). `c` writes `model.h` and `model.c` into the folder
    /// `output` and needs `calibration` inputs (feature lines) for the integer activation ranges.
    @discardableResult
    public static func export(path: String, format: Format, to output: String, ggufType: GGUFTensorType = .q8_0,
                              gzip: Int? = nil, calibration: String? = nil) throws -> [String] {
        // A GGUF file to GGUF is re-encoded tensor by tensor, as llama-quantize does: its metadata
        // (tokenizer, hyper-parameters) carries over whatever the architecture.
        if format == .gguf, path.hasSuffix(".gguf") {
            return try GGUFRequantizer.requantize(input: path, to: output, type: ggufType)
        }
        let (source, store) = try self.source(path: path)
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
            return try GGUFExporter.export(source, to: output, type: ggufType).notes
        case .c:
            guard let calibration else {
                throw ExportError.unsupportedFormat("c", reason: "needs calibration inputs for the activation ranges (--calibration FILE, or the recipe's data.calibration)")
            }
            let rows = try EvaluationData.inputs(calibration).enumerated().map { i, line in
                try EvaluationData.features(line, file: calibration, line: i + 1)
            }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let summary = try CExporter.export(source, calibration: rows, to: output)
            return summary.notes + ["flash \(summary.flashBytes) bytes, RAM \(summary.ramBytes) bytes"]
        }
    }

    /// The hook a `Pipeline` calls with its finished output folder: writes each of the recipe's
    /// `output.formats` beside `model.safetensors` (`model.h5`, `model.onnx`, `model.gguf` as
    /// Q8_0, `c/model.h` + `c/model.c` calibrated on the recipe's calibration data).
    public static func write(folder: String, recipe: Recipe) throws {
        for format in recipe.output.formats where format != .safetensors {
            guard let kind = Format(rawValue: format.rawValue) else {
                throw ExportError.unsupportedFormat(format.rawValue, reason: "no exporter of that name")
            }
            try export(path: folder, format: kind, to: (folder as NSString).appendingPathComponent(kind.fileName),
                       calibration: recipe.calibration?.path)
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
