import NanoModels
import NanoTensor

/// Per-layer output error of a compressed model: for each Linear layer, ‖Y − Ŷ‖ / ‖Y‖ where Ŷ is
/// the compressed layer's output (input quantization included) and Y the original layer's, both
/// on the inputs the compressed model gives that layer on the calibration data. It isolates the
/// error each layer adds, so the report shows which layers a scheme hurts.
enum LayerOutputError {
    static func measure(_ state: CompressionState, reference: EvaluatedModel, calibration: CalibrationData) -> [String: Double] {
        let originals = Dictionary(reference.linearLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
        let layers = Dictionary(state.linearLayers.map { ($0.name, $0.layer) }, uniquingKeysWith: { a, _ in a })
        var sums: [String: (error: Double, norm: Double)] = [:]
        calibration.forEachLinearInput(state.model) { name, input, rowMask in
            guard let layer = layers[name], let original = originals[name], layer.weight.shape == original.weight.shape else { return }
            let x = CalibrationData.realRows(input, rowMask)
            let y = Tensor.linear(x, weight: original.weight.value, bias: original.bias?.value)
            let xq = layer.inputTransform.map { $0(x) } ?? x
            let yq = Tensor.linear(xq, weight: layer.weight.value, bias: layer.bias?.value)
            var error = 0.0, norm = 0.0
            for (a, b) in zip(y.scalars, yq.scalars) { error += Double((a - b) * (a - b)); norm += Double(a * a) }
            sums[name, default: (0, 0)].error += error
            sums[name, default: (0, 0)].norm += norm
        }
        return sums.compactMapValues { $0.norm > 0 ? ($0.error / $0.norm).squareRoot() : nil }
    }
}
