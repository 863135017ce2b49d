import Foundation
import NanoModels
import NanoQuant

/// `qat` on a Keras convolutional graph: quantization-aware training toward the full-integer
/// int8 model that a following `quantize` stage builds (`IntegerCNN`, the C export's arithmetic).
/// A copy of the model trains against the model entering the stage (logit KL, as `distill` on a
/// Keras graph, `augment` included) with `IntegerCNNFakeQuantization` installed: weights int8 per
/// output channel, and with `activations: true` every int8 tensor of the integer model on the grid
/// calibrated on `data.calibration` before training (min/max or a percentile, whichever
/// `IntegerCNN.calibrated` finds closest to fp32 on those images), fixed during training, or with
/// `learn_ranges` each grid's scale trained from there (`LearnedActivationGrids`, LSQ).
/// Its teacher is the model entering the stage (after `prune_structured` and `distill`, the
/// distilled one), or the models `teachers` names (e.g. the unpruned fp32 model).
/// Straight-through gradients. Like QAT on Linear layers, which packs at the end, the stage ends
/// by building the integer model of the trained weights (`IntegerCNN`): with fixed grids, ranges
/// measured anew with the clipping training simulated; with learned ones, the learned grids, so
/// what evaluation, the report and the C / TFLite exports use is what training simulated.
/// A recipe has one quantizing stage, so no `quantize` follows. The float graph keeps its
/// shapes and BatchNorm layers (what `model.safetensors` stores).
extension QATPass {
    func runKerasGraph(_ graph: KerasGraphModel, on state: CompressionState, context: PassContext) throws -> String {
        let kind = "a Keras convolutional graph trains toward the full-integer int8 model (int8 weights per channel, int8 activations per tensor)"
        if bits != 8 { throw context.failure("\(kind); bits must be 8, not \(bits)", at: ".bits") }
        if !symmetric { throw context.failure("\(kind); weights are symmetric", at: ".symmetric") }
        if groupSize != nil { throw context.failure("\(kind); weight scales are per channel, not groups", at: ".group_size") }
        if lsq { throw context.failure("\(kind); its weight scales are min/max (lsq is for Linear layers)", at: ".lsq") }
        if selector != (try LayerSelector(targets: ["Linear"])) {
            throw context.failure("\(kind): every layer runs in int8, so targets and ignore do not apply (leave them out)",
                                  at: selector.ignore.isEmpty ? ".targets" : ".ignore")
        }
        if learnRanges && !activations {
            throw context.failure("learn_ranges learns the int8 activation grids: set activations: true", at: ".learn_ranges")
        }
        if let i = teachers.firstIndex(where: { $0.endpoint != nil }) {
            throw context.failure("\(kind); its teachers are model files (path), not endpoints", at: ".teachers[\(i)]")
        }
        for (i, t) in teachers.enumerated() where !FileManager.default.fileExists(atPath: t.path) {
            throw PipelineError.missingFile(recipe: context.recipe.file, field: "\(context.label).teachers[\(i)].path", path: t.path)
        }
        guard !context.calibration.isEmpty else {
            throw context.failure("the int8 model QAT trains toward is calibrated on images: set data.calibration")
        }
        let file = context.recipe.calibration?.path ?? "data.calibration"
        let rows = try context.calibration.enumerated().map { i, line in try EvaluationData.features(line, file: file, line: i + 1) }
        func integerModel(_ body: () throws -> IntegerCNN) throws -> IntegerCNN {
            do { return try body() } catch let CExportError.unsupportedLayer(layer, kind, modelFile, reason) {
                throw context.failure("\(modelFile): layer '\(layer)' (\(kind)) has no full-integer int8 form: \(reason)")
            } catch let error as CExportError {
                throw context.failure("\(error)")
            }
        }
        // The grids training simulates: the entering weights' integer model, its activation
        // clipping chosen on the calibration images (`IntegerCNN.calibrated`).
        var percentile: Double?
        let simulated = try integerModel {
            let c = try IntegerCNN.calibrated(graph, features: rows, file: context.recipe.modelPath)
            percentile = c.percentile
            return c.model
        }
        let calibrated = percentile.map { "percentile \($0)" } ?? "min/max"
        let clipping = learnRanges ? "learned (LSQ) from \(calibrated)" : calibrated
        var pass = try context.recoveryPass(training, label: context.label, state, labels: false)
        pass.options.augment = augment
        var installed = (kernels: 0, activations: 0)
        let learned = activations && learnRanges ? LearnedActivationGrids(simulated) : nil
        pass.prepareStudent = { student in
            guard let g = student.as(KerasGraphModel.self) else { return [] }
            installed = IntegerCNNFakeQuantization.install(activations ? simulated : nil, on: g, learned: learned)
            return learned.map { [("activation_scales", $0.scales)] } ?? []
        }
        let teacherModels = try teachers.isEmpty ? nil : teachers.map { t in
            DistillationPass.Teacher(model: try EvaluatedModel.load(path: t.path, recipe: context.recipe.file).model, weight: t.weight)
        }
        let result = try context.train(pass, state, teachers: teacherModels)
        guard let trained = result.student.as(KerasGraphModel.self) else { throw context.failure("the trained student is not a Keras graph") }
        IntegerCNNFakeQuantization.remove(from: trained)
        // Convert, as QAT on Linear layers packs: the integer model of the trained weights, its
        // ranges the learned grids, or measured anew with the clipping training simulated.
        let integer = try integerModel {
            try IntegerCNN(calibrating: trained, features: rows, file: context.recipe.modelPath, percentile: percentile,
                           grids: learned?.grids ?? [:])
        }
        state.model = result.student
        state.model.integerClassifier = IntegerCNNClassifier(integer)
        state.integerCNN = integer
        if let learned {
            // How far training moved the grids: the largest ratio learned / calibrated scale, either way.
            let moves = zip(learned.scales.value.scalars, learned.initialScales).map { Double(max($0 / $1, $1 / $0)) }
            context.log("\(context.label): \(learned.initialScales.count) learned activation scales, at most ×\(String(format: "%.3f", moves.max() ?? 1)) from calibration")
        }
        state.quantized = [:]
        state.weightErrors = [:]
        let teacherNote = teachers.isEmpty ? "" : " (teachers: \(teachers.map(\.path).joined(separator: ", ")))"
        return "int8 quantization-aware training of a Keras graph\(teacherNote): \(installed.kernels) kernels per channel"
            + (activations ? ", \(installed.activations) int8 activation tensors (\(clipping) ranges)" : ", float activations")
            + ": \(result.training.steps) steps, final loss \(String(format: "%.5f", result.training.finalLoss)); "
            + "then full-integer int8 (folded \(integer.folds.count) BatchNormalization layers, \(clipping) ranges from \(rows.count) calibration images)"
    }
}
