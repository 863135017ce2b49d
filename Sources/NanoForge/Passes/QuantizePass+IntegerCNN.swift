import NanoModels
import NanoQuant

/// `quantize` on a Keras convolutional graph: the full-integer int8 model of `IntegerCNN`, which
/// is what the C export runs bit for bit. BatchNormalization is folded into the convolution
/// before it; weights are int8 symmetric per output channel (RTN, or GPTQ on the convolutions
/// viewed as [out, in·kh·kw]: `GPTQ.convolutionRounding`); every activation tensor is
/// int8 per tensor, its range measured on `data.calibration` (min/max, or clipped to a
/// percentile). Evaluation then runs the integer model itself (`IntegerCNNClassifier`), so the
/// report's figures are the C program's.
///
/// Only the settings that describe that model are accepted; any other is refused naming its key.
extension QuantizePass {
    func runIntegerCNN(_ graph: KerasGraphModel, on state: CompressionState, context: PassContext) throws -> String {
        let percentile = try integerCNNPercentile(context)
        guard !context.calibration.isEmpty else {
            throw context.failure("a Keras graph's int8 activation ranges are measured on images: set data.calibration", at: ".activations")
        }
        let file = context.recipe.calibration?.path ?? "data.calibration"
        let rows = try context.calibration.enumerated().map { i, line in
            try EvaluationData.features(line, file: file, line: i + 1)
        }
        let integer: IntegerCNN
        let rounding = gptq.map { GPTQ.convolutionRounding(dampingFraction: $0.damping, blockSize: $0.blockSize, activationOrder: $0.actOrder) }
        if let gptq {
            context.log("\(context.label): GPTQ on every convolution, Hessians from the integer model's own inputs on \(rows.count) calibration images "
                        + "(damping \(gptq.damping), block \(gptq.blockSize), act_order \(gptq.actOrder))")
        }
        do {
            integer = try IntegerCNN(calibrating: graph, features: rows, file: context.recipe.modelPath, percentile: percentile, rounding: rounding)
        } catch let CExportError.unsupportedLayer(layer, kind, modelFile, reason) {
            throw context.failure("\(modelFile): layer '\(layer)' (\(kind)) has no full-integer int8 form: \(reason)")
        } catch let error as CExportError {
            throw context.failure("\(error)")
        } catch let error as QuantizationError {
            throw context.failure("GPTQ: \(error)", at: ".method")
        }
        // The float graph stays as loaded (what `model.safetensors` stores: folding adds biases,
        // and the pass keeps shapes, as it declares); evaluation runs the integer model.
        state.model.integerClassifier = IntegerCNNClassifier(integer)
        state.integerCNN = integer
        let convolutions = integer.operations.filter { if case .convolution = $0.kind { return true } else { return false } }.count
        context.log("\(context.label): folded \(integer.folds.count) BatchNormalization layers" + (integer.folds.isEmpty ? "" : ": " + integer.folds.joined(separator: ", ")))
        return "folded \(integer.folds.count) BatchNormalization layers; full-integer int8: \(convolutions) convolutions int8 per channel (\(gptq == nil ? "RTN" : "GPTQ")), "
            + "\(integer.tensors.count) int8 activation tensors (\(percentile.map { "percentile \($0)" } ?? "minmax")) from \(rows.count) calibration images"
    }

    /// The activation clipping the settings ask for (nil: min/max), or the error naming the first
    /// key that the integer CNN cannot honour.
    func integerCNNPercentile(_ context: PassContext) throws -> Double? {
        let kind = "a Keras convolutional graph is quantized full-integer (int8 weights per channel, int8 activations per tensor: the C export's arithmetic)"
        if let ggmlType { throw context.failure("\(kind); ggml block types (\(ggmlType.name.lowercased())) apply to transformer Linear layers", at: ".ggml_type") }
        if bits != 8 { throw context.failure("\(kind); bits must be 8, not \(bits)", at: ".bits") }
        if !symmetric { throw context.failure("\(kind); weights are symmetric", at: ".symmetric") }
        if granularity != .channel { throw context.failure("\(kind); weight granularity is channel", at: ".granularity") }
        if observer != .minmax { throw context.failure("\(kind); weight scales come from min/max", at: ".observer") }
        if scaleFormat != .float32 { throw context.failure("\(kind); scales are requantization multipliers, not f16", at: ".scale_format") }
        if selector != (try LayerSelector(targets: ["Linear"])) {
            throw context.failure("\(kind): every layer runs in int8, so targets and ignore do not apply (leave them out)",
                                  at: selector.ignore.isEmpty ? ".targets" : ".ignore")
        }
        guard let activations else {
            throw context.failure("\(kind); add activations: {observer: minmax} or {observer: percentile, percentile: P}", at: ".activations")
        }
        if activations.mode != .static { throw context.failure("\(kind); activations are static (calibrated), not dynamic", at: ".activations.mode") }
        if activations.symmetric { throw context.failure("\(kind); activations are asymmetric (a zero point per tensor)", at: ".activations.symmetric") }
        switch activations.observer {
        case .minmax: return nil
        case .percentile(let p): return p
        case .mse: throw context.failure("\(kind); activation ranges come from minmax or percentile, not mse", at: ".activations.observer")
        }
    }
}
