import Foundation
import NanoCheckpoint
import NanoQuant
import NanoModels

/// What a C export wrote and what it costs on the device.
public struct CExportSummary: Equatable, Sendable {
    /// The paths written: `model.h`, `model.c`.
    public var files: [String]
    /// int8 weights, one byte each.
    public var weightBytes: Int
    /// int32 biases.
    public var biasBytes: Int
    /// int32 per-channel multipliers.
    public var multiplierBytes: Int
    /// int8 per-channel shifts.
    public var shiftBytes: Int
    /// The two static int8 activation buffers.
    public var ramBytes: Int
    /// Layers whose packed weights could not be used as they are (re-quantized to int8 per channel).
    public var notes: [String]

    /// Constant data: weights + biases + multipliers + shifts (the few scalar constants and the
    /// code itself are not counted).
    public var flashBytes: Int { weightBytes + biasBytes + multiplierBytes + shiftBytes }
}

/// Exports an MLP classifier as C99 for microcontrollers: `model.h` and `model.c`, full-integer
/// int8 inference (`IntegerMLP`, the same operations in C), constant tables, static scratch
/// buffers and no heap. See docs/formats.md, "C for microcontrollers".
public enum CExporter {
    /// Writes `model.h` and `model.c` into `folder` (created if needed; each file atomically).
    /// `calibration` holds feature rows that set the activation ranges (a few hundred training rows
    /// do; for a Keras graph, NHWC images as rows, see `exportCNN`); `file` names the model in errors; `prefix` names the public functions (`<prefix>_predict`, `<prefix>_logits`,
    /// `<prefix>_quantize_input`) and macros (`<PREFIX>_INPUTS`, `<PREFIX>_CLASSES`).
    @discardableResult
    public static func export(_ source: ExportSource, calibration: [[Float]], to folder: String,
                              prefix: String = "nanoforge_model", file: String? = nil, evaluation: [[Float]]? = nil,
                              activations: ActivationLayout = .smallest) throws -> CExportSummary {
        if let integer = source.integerCNN {
            return try exportCNN(integer, source: source, to: folder, prefix: prefix, activations: activations)
        }
        if let graph = source.model.as(KerasGraphModel.self) {
            return try exportCNN(graph, source: source, calibration: calibration, to: folder, prefix: prefix, file: file, evaluation: evaluation,
                                 activations: activations)
        }
        let model = try integerModel(source, calibration: calibration)
        let (header, body, rendered) = try render(model, provenance: source.provenance, prefix: prefix)
        var summary = rendered
        summary.files = try writeSources(header: header, body: body, into: folder)
        for layer in model.layers where layer.weightSource == .requantized {
            if let q = source.quantized[layer.name] {
                summary.notes.append("\(layer.name): packed as \(q.scheme), re-quantized to int8 symmetric per channel from its dequantized weights")
            }
        }
        return summary
    }

    /// The integer model `export` writes: `source` must be a ReLU MLP classifier.
    public static func integerModel(_ source: ExportSource, calibration: [[Float]]) throws -> IntegerMLP {
        guard let mlp = source.model.as(MLPClassifier.self) else {
            throw CExportError.unsupportedModel(family: source.model.architecture.tasks.first?.kindName ?? source.model.architecture.name, reason: "only MLP classifiers and Keras convolutional graphs have a C export")
        }
        return try IntegerMLP(calibrating: mlp, features: calibration, quantized: source.quantized)
    }

    /// The text of `model.h` and `model.c` for `model`, and the sizes (`files` left empty).
    public static func render(_ model: IntegerMLP, provenance: Provenance,
                              prefix: String = "nanoforge_model") throws -> (header: String, source: String, summary: CExportSummary) {
        guard CSyntax.isIdentifier(prefix) else { throw CExportError.invalidPrefix(prefix) }
        let summary = sizes(model)
        let header = CSource.header(model, provenance: provenance, prefix: prefix, summary: summary)
        let source = CSource.body(model, prefix: prefix, summary: summary)
        return (header, source, summary)
    }

    /// Flash and RAM of `model`'s C form. Activation k (0: input, n: logits) lives in scratch
    /// buffer k mod 2, so each buffer is as large as the widest activation it ever holds.
    static func sizes(_ model: IntegerMLP) -> CExportSummary {
        let channels = model.layers.reduce(0) { $0 + $1.outputs }
        let buffers = CSource.scratchSizes(model)
        return CExportSummary(files: [], weightBytes: model.layers.reduce(0) { $0 + $1.weights.count },
                              biasBytes: 4 * channels, multiplierBytes: 4 * channels, shiftBytes: channels,
                              ramBytes: buffers[0] + buffers[1], notes: [])
    }
}

extension CExporter {
    /// Writes `model.h` and `model.c` into `folder` (each atomically); returns their paths.
    static func writeSources(header: String, body: String, into folder: String) throws -> [String] {
        let headerPath = (folder as NSString).appendingPathComponent("model.h")
        let sourcePath = (folder as NSString).appendingPathComponent("model.c")
        try AtomicFile.write(Data(header.utf8), to: headerPath)
        try AtomicFile.write(Data(body.utf8), to: sourcePath)
        return [headerPath, sourcePath]
    }
}
