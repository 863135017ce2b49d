import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoExport
import NanoForge

/// `nanoforge export MODEL --format F --output PATH`: a compressed (or plain) model in a
/// deployable format, with provenance in the format's own metadata.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model folder as safetensors (packed), HDF5, ONNX, GGUF, C or TFLite, with its provenance.",
        discussion: "Formats and their layouts: docs/formats.md. Exit codes: 0 success, 2 bad input, 1 anything else.")

    @Argument(help: "A `nanoforge compress` output folder, or any checkpoint folder/file nanoforge loads.")
    var model: String

    @Option(help: "Output format: \(ModelExporter.Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String

    @Option(help: "Output file (for --format c: a folder that gets model.h and model.c).")
    var output: String

    @Option(help: "GGUF tensor type of weight matrices without ggml codes: f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k, q3_k, q4_k, q5_k, q6_k (round to nearest, as llama-quantize without an imatrix). Layers a recipe quantized to a ggml type keep their codes. A .gguf MODEL is re-encoded tensor by tensor.")
    var ggufType = "q8_0"

    @Option(help: "For --format gguf: also write, as F32 safetensors under the GGUF tensor names, what nanoforge decodes each tensor to (for ggml codes and F32: the weights it evaluates), for scripts/interop/check_gguf_dequant.py.")
    var ggufReference: String?

    @Option(help: "gzip level 0–9 for HDF5 datasets (default: none).")
    var gzip: Int?

    @Option(help: "For --format c and tflite: calibration inputs (one feature line, or label<TAB>features, per line) that fix the int8 activation ranges.")
    var calibration: String?

    @Option(help: "For --format c with a Keras CNN: images (feature lines, or label<TAB>features) on which the int8 model, the integer reference the C code computes bit for bit, is compared with the float model: top-1 agreement and mean KL, printed as a note.")
    var evaluate: String?

    @Option(help: "For --format tflite: also write, per --evaluate input, the int8 input codes and the int8 logits of nanoforge's integer reference as TSV (for scripts/interop/check_tflite.sh).")
    var tfliteReference: String?

    func run() throws {
        try CLIErrors.reporting {
            guard let kind = ModelExporter.Format(rawValue: format) else {
                throw CLIErrors.BadInput("--format: '\(format)' is not one of \(ModelExporter.Format.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let type = GGUFTensorType(name: ggufType), GGUFExporter.exportTypes.contains(type) else {
                throw CLIErrors.BadInput("--gguf-type: '\(ggufType)' is not one of \(GGUFExporter.exportTypes.map { $0.name.lowercased() }.joined(separator: ", "))")
            }
            if tfliteReference != nil && (kind != .tflite || evaluate == nil) {
                throw CLIErrors.BadInput("--tflite-reference: needs --format tflite and --evaluate FILE (the inputs it is computed on)")
            }
            let integer = kind == .c || kind == .tflite
            let rows = try integer ? calibration.map(EvaluationData.featureRows) : nil
            let evaluation = try integer ? evaluate.map(EvaluationData.featureRows) : nil
            let notes = try ModelExporter.export(path: model, format: kind, to: output, ggufType: type, ggufReference: ggufReference,
                                                 gzip: gzip, calibration: rows, evaluation: evaluation,
                                                 tfliteReference: tfliteReference)
            for note in notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            print("wrote \(output) (\(kind.rawValue), \(String(format: "%.1f", Double(bytes) / 1e6)) MB)")
        }
    }
}
