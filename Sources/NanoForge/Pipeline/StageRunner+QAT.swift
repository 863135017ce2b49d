import Foundation
import NanoModels
import NanoTensor

/// The `qat` stage: quantization-aware fine-tuning. The model entering the stage is the teacher;
/// a copy of it trains with its selected Linear weights fake-quantized on every forward pass
/// (round-to-nearest with the stage's scheme, the same numerics as `quantize`; straight-through
/// gradients to the float weights) and, with `activations`, int8 inputs from calibration ranges.
/// Losses: embedding cosine + MSE for sentence encoders, logit KL + the labels' cross-entropy for
/// classifiers. At the end the trained weights are quantized once more with the same scheme and
/// stored packed, so the saved model is exactly what training saw.
extension StageRunner {
    func qat(_ o: QATOptions, index: Int, _ label: String, _ state: CompressionState) throws -> String {
        if o.lsq {
            throw PipelineError.stageFailed(recipe: recipe.file, stage: label + ".lsq", reason: "learned step sizes (LSQ) are not implemented yet; use lsq: false")
        }
        let scheme = QuantizationScheme(bits: o.bits, symmetric: o.symmetric, granularity: o.groupSize.map { .group($0) } ?? .channel)
        var pass = try recoveryPass(o.training, index: index, label, state)
        let selector = o.selector
        var selectedNames: [String] = []
        var activationRanges: [String: ActivationQuantization] = [:]
        if o.activations {
            // Static input ranges from the entering model on the calibration data.
            let names = try selected(selector, label, state).map(\.name)
            for (name, observer) in try inputObservers(for: names, observer: .minmax, label, state) {
                activationRanges[name] = ActivationQuantization(parameters: observer.parameters(bits: 8, symmetric: false), bits: 8, symmetric: false)
            }
        }
        pass.prepareStudent = { student in
            for (name, layer) in student.linearLayers where selector.selects(name: name, kind: .linear) {
                selectedNames.append(name)
                layer.weightTransform = { w in (try? RTN.quantize(w, scheme: scheme))?.dequantized() ?? w }
                activationRanges[name]?.install(on: layer)
            }
        }
        let result = try train(pass, label, state)
        guard !selectedNames.isEmpty else { throw PipelineError.noLayersSelected(recipe: recipe.file, stage: label) }
        // Convert: the trained float weights, quantized with the training scheme, stored packed.
        state.model = result.student
        state.quantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = activationRanges
        for (name, layer) in result.student.linearLayers where selectedNames.contains(name) {
            layer.weightTransform = nil
            let w = layer.weight.value
            let q: QuantizedTensor
            do { q = try RTN.quantize(w, scheme: scheme) } catch {
                throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "layer \(name): \(error)")
            }
            layer.weight.value = q.dequantized()
            state.quantized[name] = q
            state.weightErrors[name] = Self.relativeError(w, layer.weight.value)
        }
        return "\(scheme) quantization-aware training of \(selectedNames.count) layers\(o.activations ? " with int8 inputs" : ""): \(result.training.steps) steps, final loss \(String(format: "%.5f", result.training.finalLoss))"
    }
}
