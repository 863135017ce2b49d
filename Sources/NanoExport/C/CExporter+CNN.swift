import NanoQuant
import Foundation
import NanoCheckpoint
import NanoModels

extension CExporter {
    /// How a CNN's activations are laid out in the arena (`IntegerCNN.memoryPlan`).
    public typealias ActivationLayout = IntegerCNN.ActivationLayout

    /// Writes `model.h` and `model.c` for a Keras convolutional graph (`IntegerCNN`: BatchNorm
    /// folded, int8 per-channel weights, int8 activations calibrated on `calibration` images,
    /// their clipping chosen by `IntegerCNN.calibrated`).
    /// `file` names the model in errors. With `evaluation` images, the notes end with the int8
    /// model's top-1 agreement and mean KL against the float model (`IntegerCNN.fidelity`: the
    /// integer reference, which the C code computes bit for bit).
    @discardableResult
    public static func exportCNN(_ graph: KerasGraphModel, source: ExportSource, calibration: [[Float]], to folder: String,
                                 prefix: String = "nanoforge_model", file: String? = nil, evaluation: [[Float]]? = nil,
                                 activations: ActivationLayout = .smallest) throws -> CExportSummary {
        let (model, percentile, calibrationKL) = try IntegerCNN.calibrated(graph, features: calibration, file: file ?? graph.configuration.name)
        var (header, body, rendered) = try render(model, provenance: source.provenance, prefix: prefix, activations: activations)
        rendered.notes.append("activation ranges: " + (percentile.map { "percentile \($0)" } ?? "min/max")
                              + String(format: " (lowest mean KL on the %d calibration images, %.5f, of min/max and percentiles ", calibration.count, calibrationKL)
                              + IntegerCNN.clippingCandidates.compactMap { $0.map { "\($0)" } }.joined(separator: ", ") + ")")
        var summary = rendered
        summary.files = try writeSources(header: header, body: body, into: folder)
        if let evaluation {
            guard evaluation.allSatisfy({ $0.count == model.inputCount }) else {
                throw CExportError.invalidCalibration(reason: "evaluation rows must have \(model.inputCount) values each")
            }
            let f = model.fidelity(to: graph, images: evaluation)
            summary.notes.append("int8 vs fp32 on \(f.images) images (the integer reference the C code computes): top-1 agreement "
                                 + String(format: "%.2f %%, mean KL %.5f", 100 * f.agreement, f.meanKL))
        }
        return summary
    }

    /// Writes `model.h` and `model.c` for an integer CNN built before (a recipe's `quantize`
    /// stage, which measured it): exactly that model, without calibrating anew.
    @discardableResult
    public static func exportCNN(_ model: IntegerCNN, source: ExportSource, to folder: String,
                                 prefix: String = "nanoforge_model", activations: ActivationLayout = .smallest) throws -> CExportSummary {
        var (header, body, summary) = try render(model, provenance: source.provenance, prefix: prefix, activations: activations)
        summary.notes.append("the int8 model of the recipe's quantize stage (activation ranges: "
                             + (model.activationPercentile.map { "percentile \($0)" } ?? "min/max") + "), as its report measured it")
        summary.files = try writeSources(header: header, body: body, into: folder)
        return summary
    }

    /// The text of `model.h` and `model.c` for `model`, and the sizes (`files` left empty); the
    /// notes say which BatchNormalization layers were folded.
    public static func render(_ model: IntegerCNN, provenance: Provenance, prefix: String = "nanoforge_model",
                              activations: ActivationLayout = .smallest) throws -> (header: String, source: String, summary: CExportSummary) {
        guard CSyntax.isIdentifier(prefix) else { throw CExportError.invalidPrefix(prefix) }
        // The plan the report's RAM column reads too (`IntegerCNN.ramBytes`).
        let memory = model.memoryPlan(activations)
        let (schedule, plan, streaming) = (memory.schedule, memory.arena, memory.streamed)
        let bytes = model.constantBytes
        var summary = CExportSummary(files: [], weightBytes: bytes.weights, biasBytes: bytes.biases, multiplierBytes: bytes.multipliers,
                                     shiftBytes: bytes.shifts, ramBytes: plan.size, notes: [])
        summary.notes.append("folded \(model.folds.count) BatchNormalization layers into the layers before them"
                             + (model.folds.isEmpty ? "" : " (\(model.folds.joined(separator: ", ")))"))
        summary.notes.append("activations: \(plan.size) bytes " + (streaming
            ? "streamed row by row (\(schedule.steps.count) steps; whole tensors would take \(memory.otherLayoutBytes))"
            : "as whole tensors (row streaming would take \(memory.otherLayoutBytes))"))
        let header = CSource.cnnHeader(model, provenance: provenance, prefix: prefix, summary: summary)
        let source = CSource.cnnBody(model, schedule: schedule, plan: plan, prefix: prefix)
        return (header, source, summary)
    }
}
