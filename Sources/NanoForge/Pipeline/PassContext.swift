import Foundation
import NanoModels
import NanoQuant
import NanoTensor

/// What a pass sees of the run beside the model: the recipe (file, seed), the stage's index and
/// label for errors, the calibration inputs, the log, the evaluation tasks and reference model
/// (training passes score with them), and the checkpoint settings. It also holds the helpers the
/// passes share, one each: layer selection, calibration batches, Hessians, activation observers.
public struct PassContext {
    let recipe: Recipe
    /// The stage's position in `stages` (names its checkpoint folder).
    let index: Int
    /// `stages[<index>].<key>`, the recipe path errors name.
    public let label: String
    /// Calibration inputs (one per line of the recipe's calibration file).
    let calibration: [String]
    let log: (String) -> Void
    var tasks: [EvaluationTask] = []
    var reference: EvaluatedModel?
    /// Training passes continue from their checkpoints in `checkpointRoot/stage-<index>/`.
    var resume = false
    var checkpointRoot: String?

    init(recipe: Recipe, index: Int, key: String, calibration: [String], log: @escaping (String) -> Void) {
        self.recipe = recipe
        self.index = index
        self.label = "stages[\(index)].\(key)"
        self.calibration = calibration
        self.log = log
    }

    /// A `PipelineError` naming this stage.
    func failure(_ reason: String, at suffix: String = "") -> PipelineError {
        .stageFailed(recipe: recipe.file, stage: label + suffix, reason: reason)
    }

    var nothingSelected: PipelineError { .noLayersSelected(recipe: recipe.file, stage: label) }

    // MARK: layer selection

    /// The weights a quantizing pass acts on: selected Linear layers, then selected embedding
    /// tables (targets `Embedding`), each with its layer name.
    func selectedWeights(_ selector: LayerSelector, in state: CompressionState) throws -> [QuantizableWeight] {
        let linear = selector.layers(Linear.self, in: state.model.container)
            .map { QuantizableWeight(name: $0.name, weight: $0.layer.weight, linear: $0.layer) }
        let embeddings = selector.layers(Embedding.self, in: state.model.container)
            .map { QuantizableWeight(name: $0.name, weight: $0.layer.weight, linear: nil) }
        if linear.isEmpty && embeddings.isEmpty { throw nothingSelected }
        return linear + embeddings
    }

    /// The selected Linear layers; none is an error.
    func selectedLinears(_ selector: LayerSelector, in state: CompressionState) throws -> [(name: String, layer: Linear)] {
        let layers = selector.layers(Linear.self, in: state.model.container)
        if layers.isEmpty { throw nothingSelected }
        return layers
    }

    // MARK: calibration

    /// The calibration inputs batched for the current model (rebuilt per stage: an earlier stage
    /// may have changed the tokenizer).
    func calibrationData(_ state: CompressionState) throws -> CalibrationData {
        guard !calibration.isEmpty else { throw failure("this pass needs calibration data: set data.calibration") }
        return try CalibrationData(inputs: calibration, model: state.model, file: recipe.calibration?.path ?? "data.calibration")
    }

    /// GPTQ's Hessian accumulators of the named layers, from the calibration inputs.
    ///
    /// Layers that read the very same input (a decoder's query/key/value, gate/up) share one
    /// accumulator: the dictionary's entries for them are copies of one struct whose sums are one
    /// copy-on-write buffer. A decoder's Hessians are most of GPTQ's memory (SmolLM2-135M: 30
    /// blocks × seven [in, in] Float sums, 0.53 GB unshared, 0.40 GB shared).
    func hessians(for names: [String], in state: CompressionState) throws -> [String: HessianAccumulator] {
        let wanted = Set(names)
        var hessians: [String: HessianAccumulator] = [:]
        // sharer → owner, decided on the first forward pass: a layer whose input equals the input
        // of the layer observed just before it.
        var sharedWith: [String: String] = [:]
        var decided = Set<String>()
        var previous: (name: String, input: Tensor)?
        var problem: Error?
        try calibrationData(state).forEachLinearInput(state.model) { name, input, rowMask in
            guard wanted.contains(name), problem == nil else { return }
            if !decided.contains(name) {
                decided.insert(name)
                if let previous, previous.input.shape == input.shape, previous.input.scalars == input.scalars {
                    sharedWith[name] = sharedWith[previous.name] ?? previous.name
                }
            }
            previous = (name, input)
            if sharedWith[name] != nil { return }
            do {
                try hessians[name, default: HessianAccumulator(columns: input.shape[1])].add(CalibrationData.realRows(input, rowMask))
            } catch { problem = error }
        }
        if let problem { throw failure("\(problem)") }
        for (sharer, owner) in sharedWith { hessians[sharer] = hessians[owner] }
        return hessians
    }

    /// One activation observer per named layer, fed every real row of its input on the
    /// calibration data through the current model.
    func inputObservers(for names: [String], observer: Observer, in state: CompressionState) throws -> [String: ActivationObserver] {
        var observers: [String: ActivationObserver] = [:]
        for name in names { observers[name] = try ActivationObserver(observer: observer) }
        try calibrationData(state).forEachLinearInput(state.model) { name, input, rowMask in
            guard observers[name] != nil else { return }
            observers[name]!.observe(CalibrationData.realRows(input, rowMask))
        }
        return observers
    }

    /// Each selected Linear's input norms over the calibration data (Wanda, activation-based
    /// structured pruning).
    func inputNorms(_ state: CompressionState) throws -> [String: [Float]] {
        try calibrationData(state).inputNorms(state.model)
    }

    // MARK: weights

    /// ‖a − b‖ / ‖a‖: a quantized layer's relative weight error, for the report.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a.scalars, b.scalars) { num += Double((x - y) * (x - y)); den += Double(x * x) }
        return den > 0 ? (num / den).squareRoot() : 0
    }
}
