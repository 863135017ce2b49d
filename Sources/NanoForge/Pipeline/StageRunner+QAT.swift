import Foundation
import NanoModels
import NanoQuant
import NanoTensor

/// The `qat` stage: quantization-aware fine-tuning. The model entering the stage is the teacher;
/// a copy of it trains with its selected Linear weights fake-quantized on every forward pass
/// (the same numerics as `quantize`) and, with `activations`, int8 inputs from calibration ranges.
/// Plain QAT rounds to nearest with the scheme's min-max scales, recomputed every step, with
/// straight-through gradients to the float weights; `lsq` learns the scales instead
/// (`LearnedStepSize`: LSQ gradients, trained by AdamW beside the weights).
/// Losses: embedding cosine + MSE for sentence encoders, logit KL for classifiers (adding the
/// labels' cross-entropy pulls the student away from the model it is to reproduce: on the digits
/// fixture int4 QAT then ended below RTN's fidelity, 0.99888 vs 0.99918; without it 0.99966).
/// At the end the trained weights are quantized once more with the scales training used
/// (min-max or learned) and stored packed, so the saved model is exactly what training saw.
extension StageRunner {
    func qat(_ o: QATOptions, index: Int, _ label: String, _ state: CompressionState) throws -> String {
        let scheme = QuantizationScheme(bits: o.bits, symmetric: o.symmetric, granularity: o.groupSize.map { .group($0) } ?? .channel)
        var pass = try recoveryPass(o.training, index: index, label, state, labels: false)
        let selector = o.selector
        var selectedNames: [String] = []
        var learned: [String: LearnedStepSize] = [:]
        var activationRanges: [String: ActivationQuantization] = [:]
        if o.activations {
            // Static input ranges from the entering model on the calibration data.
            let names = try selected(selector, label, state).map(\.name)
            for (name, observer) in try inputObservers(for: names, observer: .minmax, label, state) {
                activationRanges[name] = ActivationQuantization(parameters: observer.parameters(bits: 8, symmetric: false), bits: 8, symmetric: false)
            }
        }
        let recipeFile = recipe.file
        pass.prepareStudent = { student in
            var scales: [(name: String, variable: Variable)] = []
            for (name, layer) in selector.layers(Linear.self, in: student.container) {
                selectedNames.append(name)
                if o.lsq {
                    let lsq: LearnedStepSize
                    do { lsq = try LearnedStepSize(initialWeight: layer.weight.value, scheme: scheme) } catch {
                        throw PipelineError.stageFailed(recipe: recipeFile, stage: label, reason: "layer \(name): \(error)")
                    }
                    learned[name] = lsq
                    scales.append((name + ".weight_scale", lsq.scales))
                    layer.weightTransform = { w, tape in lsq(w, tape: tape) }
                } else {
                    layer.weightTransform = { w, tape in
                        let q = (try? RTN.quantize(w.value, scheme: scheme))?.dequantized() ?? w.value
                        return tape.record(q, inputs: [w]) { g, _ in [g] }
                    }
                }
                activationRanges[name]?.install(on: layer)
            }
            return scales
        }
        let result = try train(pass, label, state)
        guard !selectedNames.isEmpty else { throw PipelineError.noLayersSelected(recipe: recipe.file, stage: label) }
        // Convert: the trained float weights, quantized with the training scales, stored packed.
        state.model = result.student
        state.quantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = activationRanges
        for (name, layer) in result.student.linearLayers where selectedNames.contains(name) {
            layer.weightTransform = nil
            let w = layer.weight.value
            let q: QuantizedTensor
            do { q = try learned[name]?.quantized(w) ?? RTN.quantize(w, scheme: scheme) } catch {
                throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "layer \(name): \(error)")
            }
            layer.weight.value = q.dequantized()
            state.quantized[name] = q
            state.weightErrors[name] = Self.relativeError(w, layer.weight.value)
        }
        return "\(scheme) \(o.lsq ? "LSQ " : "")quantization-aware training of \(selectedNames.count) layers\(o.activations ? " with int8 inputs" : ""): \(result.training.steps) steps, final loss \(String(format: "%.5f", result.training.finalLoss))"
    }
}
