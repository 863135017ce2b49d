import Foundation
import NanoModels
import NanoQuant
import NanoTensor
import Yams

/// The `qat` pass: quantization-aware fine-tuning. The model entering the stage is the teacher;
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
public struct QATPass: CompressionPass {
    public var bits = 4
    public var symmetric = true
    /// Group size for group-wise scales; nil for per-channel.
    public var groupSize: Int?
    /// Learn the step sizes (LSQ, Esser et al., 2020).
    public var lsq = false
    /// Also fake-quantize Linear inputs to int8 (on a Keras graph: every int8 tensor).
    public var activations = false
    /// Keras image classifiers: augment the training images as `distill`'s `augment` does.
    public var augment = false
    /// Keras graphs with `activations`: learn each int8 activation grid's scale (LSQ) instead of
    /// keeping the calibrated one (`LearnedActivationGrids`).
    public var learnRanges = false
    /// Keras graphs: the models to learn from (`distill`'s `teachers`, model files); empty: the
    /// model entering the stage.
    public var teachers: [DistillPass.Teacher] = []
    public var selector: LayerSelector
    public var training: TrainingOptions

    public init(selector: LayerSelector, training: TrainingOptions) {
        self.selector = selector
        self.training = training
    }

    public static let key = "qat"
    public static let summary = "Quantization-aware training: a copy of the model trains against the model entering the stage with fake-quantized weights (straight-through estimator; with `lsq`, learned scales) and optionally int8 inputs, then is packed with the same scheme and the scales it trained with. On a Keras convolutional graph it simulates the full-integer int8 model of `quantize` (weights int8 per output channel; with `activations`, every int8 tensor on its grid calibrated on `data.calibration`) and ends with the integer model of the trained weights (as `quantize` builds it), which evaluation and the C / TFLite exports use."
    public static let shapeEffect = ShapeEffect.keepsShapes
    public static let quantizesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var trains: Bool { true }

    /// The weight scheme training simulates and the result is packed with.
    public var scheme: QuantizationScheme {
        QuantizationScheme(bits: bits, symmetric: symmetric, granularity: groupSize.map { .group($0) } ?? .channel)
    }

    public static let fields: [RecipeField] = [
        RecipeField("bits", "integer", default: "4", allowed: "2…8", "Weight bit width."),
        RecipeField("symmetric", "boolean", default: "true", allowed: "true | false", "Symmetric or asymmetric weights."),
        RecipeField("group_size", "integer", allowed: "≥ 1", "Group-wise scales of this size; per-channel when absent."),
        RecipeField("lsq", "boolean", default: "false", allowed: "true | false", "Learn the weight scales with LSQ (Esser et al.): initialised to min-max, trained by AdamW beside the weights, used to pack."),
        RecipeField("activations", "boolean", default: "false", allowed: "true | false", "Fake-quantize Linear inputs to int8 too; on a Keras graph, every int8 tensor of the integer model."),
        RecipeField("augment", "boolean", default: "false", allowed: "true | false",
                    "Keras image classifiers only: augment every training image anew each step, as `distill`'s `augment`."),
        RecipeField("learn_ranges", "boolean", default: "false", allowed: "true | false",
                    "Keras graphs with `activations`: each int8 activation grid's scale is trained (LSQ: initialised from the calibrated range, gradient scaled by 1/√(N·Qp), zero points kept) and the integer model is built with the learned scales. Off by default, so that a recipe keeps the calibrated grids it was measured with; Recipes/fer-*.yaml report both."),
        RecipeField("teachers", "list of mappings", default: "[] (the model entering the stage)", allowed: "[{path, weight > 0}]",
                    "Keras graphs: the models the student learns from (logit KL, weighted), as `distill`'s `teachers`, e.g. the unpruned model after `prune_structured`."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"]) + TrainingOptions.fields

    public static func decode(_ node: RecipeNode) throws -> QATPass {
        let map = try node.mapping(fields)
        var pass = QATPass(selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]),
                           training: try TrainingOptions.decode(map))
        pass.bits = try map.optional("bits", default: 4) { try $0.int(2...8) }
        pass.symmetric = try map.optional("symmetric", default: true) { try $0.bool() }
        pass.groupSize = try map.optional("group_size").map { try $0.int(atLeast: 1) }
        pass.lsq = try map.optional("lsq", default: false) { try $0.bool() }
        pass.activations = try map.optional("activations", default: false) { try $0.bool() }
        pass.augment = try map.optional("augment", default: false) { try $0.bool() }
        pass.learnRanges = try map.optional("learn_ranges", default: false) { try $0.bool() }
        pass.teachers = try map.optional("teachers", default: []) { list in
            try list.list().map { item in try DistillPass.teacher(item, topK: 64, losses: [DistillPass.Loss(kind: .logitKL)]) }
        }
        return pass
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            e.set("bits", bits)
            e.set("symmetric", symmetric)
            e.set("group_size", groupSize)
            e.set("lsq", lsq)
            e.set("activations", activations)
            e.set("augment", augment)
            if learnRanges { e.set("learn_ranges", learnRanges) }
            if !teachers.isEmpty {
                e.set("teachers", Node(teachers.map { t in
                    RecipeEncoding.mapping {
                        if let endpoint = t.endpoint { endpoint.encode(into: &$0) } else { $0.set("path", t.path) }
                        $0.set("weight", t.weight)
                    }
                }))
            }
            SelectionFields.encode(selector, into: &e)
            training.encode(into: &e)
        }
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        if let graph = state.model.as(KerasGraphModel.self) { return try runKerasGraph(graph, on: state, context: context) }
        if augment { throw context.failure("augment applies to Keras image classifiers, whose training rows are images", at: ".augment") }
        if learnRanges { throw context.failure("learn_ranges applies to a Keras graph's int8 activations (Linear inputs keep their calibrated ranges)", at: ".learn_ranges") }
        if !teachers.isEmpty { throw context.failure("teachers apply to Keras graphs; QAT of Linear layers learns from the model entering the stage", at: ".teachers") }
        let (label, scheme, selector, lsq) = (context.label, self.scheme, self.selector, self.lsq)
        var pass = try context.recoveryPass(training, label: label, state, labels: false)
        var selectedNames: [String] = []
        var learned: [String: LearnedStepSize] = [:]
        var activationRanges: [String: ActivationQuantization] = [:]
        if activations {
            // Static input ranges from the entering model on the calibration data.
            let names = try context.selectedLinears(selector, in: state).map(\.name)
            for (name, observer) in try context.inputObservers(for: names, observer: .minmax, in: state) {
                activationRanges[name] = ActivationQuantization(parameters: observer.parameters(bits: 8, symmetric: false), bits: 8, symmetric: false)
            }
        }
        pass.prepareStudent = { student in
            var scales: [(name: String, variable: Variable)] = []
            for (name, layer) in selector.layers(Linear.self, in: student.container) {
                selectedNames.append(name)
                if lsq {
                    let step: LearnedStepSize
                    do { step = try LearnedStepSize(initialWeight: layer.weight.value, scheme: scheme) } catch {
                        throw context.failure("layer \(name): \(error)")
                    }
                    learned[name] = step
                    scales.append((name + ".weight_scale", step.scales))
                    layer.weightTransform = { w, tape in step(w, tape: tape) }
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
        let result = try context.train(pass, state)
        guard !selectedNames.isEmpty else { throw context.nothingSelected }
        // Convert: the trained float weights, quantized with the training scales, stored packed.
        state.model = result.student
        state.quantized = [:]
        state.ggmlQuantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = activationRanges
        for (name, layer) in result.student.linearLayers where selectedNames.contains(name) {
            layer.weightTransform = nil
            let w = layer.weight.value
            let q: QuantizedTensor
            do { q = try learned[name]?.quantized(w) ?? RTN.quantize(w, scheme: scheme) } catch {
                throw context.failure("layer \(name): \(error)")
            }
            layer.weight.value = q.dequantized()
            state.quantized[name] = q
            state.weightErrors[name] = PassContext.relativeError(w, layer.weight.value)
        }
        return "\(scheme) \(lsq ? "LSQ " : "")quantization-aware training of \(selectedNames.count) layers\(activations ? " with int8 inputs" : ""): \(result.training.steps) steps, final loss \(String(format: "%.5f", result.training.finalLoss))"
    }
}
