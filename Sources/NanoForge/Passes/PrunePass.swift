import Foundation
import NanoModels
import NanoTensor
import Yams

/// The `prune` pass: unstructured or N:M semi-structured weight pruning of the selected Linear
/// layers, at once or (with a `schedule`) gradually during training. Its settings decode straight
/// into the pruners' own types (`PruningMethod`, `SparsityPattern`, `UnstructuredPruning.Scope`).
public struct PrunePass: CompressionPass {
    /// Gradual pruning on the cubic schedule of Zhu & Gupta (2017), "To prune, or not to prune".
    public struct Schedule: Equatable {
        public var initial: Double = 0
        public var final: Double
        public var startStep: Int = 0
        public var endStep: Int
        public var updateEvery: Int = 100
        /// The fine-tuning between mask updates (against the model entering the stage).
        public var training: TrainingOptions

        /// Zhu & Gupta's cubic schedule: the sparsity the masks have after `step` (0 before
        /// `startStep`, `final` from `endStep` on).
        public func sparsity(atStep step: Int) -> Double {
            guard step >= startStep else { return 0 }
            guard step < endStep else { return final }
            let progress = Double(step - startStep) / Double(endStep - startStep)
            return final + (initial - final) * pow(1 - progress, 3)
        }

        /// Whether the masks are recomputed after `step`: every `updateEvery` steps from
        /// `startStep`, and at `endStep`.
        public func updates(atStep step: Int) -> Bool {
            step >= startStep && step <= endStep && ((step - startStep) % updateEvery == 0 || step == endStep)
        }
    }

    /// The largest M accepted in `N:M`.
    public static let maximumGroup = 64

    public var method: PruningMethod = .magnitude
    /// Target fraction of zeros in [0, 1); for N:M, 1 − N/M.
    public var sparsity: Double
    public var pattern: SparsityPattern = .unstructured
    public var scope: UnstructuredPruning.Scope = .layer
    public var schedule: Schedule?
    public var selector: LayerSelector

    public init(method: PruningMethod = .magnitude, sparsity: Double, pattern: SparsityPattern = .unstructured,
                scope: UnstructuredPruning.Scope = .layer, schedule: Schedule? = nil, selector: LayerSelector) {
        self.method = method; self.sparsity = sparsity; self.pattern = pattern; self.scope = scope
        self.schedule = schedule; self.selector = selector
    }

    public static let key = "prune"
    public static let summary = "Unstructured or N:M weight pruning by magnitude or Wanda; exact sparsity is reported."
    public static let shapeEffect = ShapeEffect.keepsShapes
    public static let prunesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var trains: Bool { schedule != nil }
    public var needsCalibration: Bool { method == .wanda }

    static let scheduleFields: [RecipeField] = [
        RecipeField("initial", "number", default: "0", allowed: "[0, 1)", "Sparsity at start_step."),
        RecipeField("final", "number", required: true, allowed: "[initial, 1)", "Sparsity reached at end_step."),
        RecipeField("start_step", "integer", default: "0", allowed: "≥ 0", "Training step where pruning starts."),
        RecipeField("end_step", "integer", required: true, allowed: "> start_step", "Training step where the final sparsity is reached."),
        RecipeField("update_every", "integer", default: "100", allowed: "≥ 1", "Steps between mask updates; fine-tuning recovers in between."),
    ] + TrainingOptions.fields

    public static let nestedFields = [(title: "`schedule` keys:", fields: scheduleFields)]

    public static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "magnitude", allowed: RecipeField.choices(PruningMethod.self),
                    "Importance score: |W|, or Wanda's |W| · ‖X‖ from calibration activations."),
        RecipeField("sparsity", "number", required: true, allowed: "[0, 1)",
                    "Fraction of weights set to zero. Required for unstructured pruning; with N:M it may be omitted and must equal 1 − N/M if given; not allowed with a schedule."),
        RecipeField("pattern", "string", default: "unstructured", allowed: "unstructured | N:M with 1 ≤ N < M ≤ \(maximumGroup)",
                    "Unstructured, or semi-structured N:M (e.g. \"2:4\", \"4:8\"): at most N non-zeros in every M consecutive input weights."),
        RecipeField("scope", "string", default: "layer", allowed: RecipeField.choices(UnstructuredPruning.Scope.self),
                    "Rank weights within each layer, or across all selected layers (unstructured only)."),
        RecipeField("schedule", "mapping", allowed: "{initial, final, start_step, end_step, update_every}",
                    "Gradual pruning during training: a copy of the model fine-tunes against the model entering the stage (embedding cosine + MSE for sentence encoders, logit KL + labels for classifiers) on the schedule's `data` for `steps`, its masks recomputed every `update_every` steps on Zhu & Gupta's cubic schedule from `initial` to `final` and re-applied after every step. Unstructured pattern only; the schedule mapping also takes the training fields (data, steps, batch_size, learning_rate, warmup, eval_every, checkpoint_every)."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    // MARK: decoding

    public static func decode(_ node: RecipeNode) throws -> PrunePass {
        let map = try node.mapping(fields)
        let selector = try SelectionFields.decode(map, defaultTargets: ["Linear"])
        let method = try map.optional("method", default: PruningMethod.magnitude) { try $0.choice(PruningMethod.self) }
        let pattern = try map.optional("pattern", default: SparsityPattern.unstructured, decodePattern)
        let scope = try map.optional("scope", default: UnstructuredPruning.Scope.layer) { try $0.choice(UnstructuredPruning.Scope.self) }
        if scope == .global, pattern != .unstructured, let value = map.optional("scope") {
            throw RecipeError.conflict(value.location, problem: "scope global applies to unstructured pruning, but pattern is \(pattern)",
                                       hint: "remove scope; N:M groups are always within a layer")
        }
        let sparsityNode = map.optional("sparsity")
        let given = try sparsityNode.map { try $0.number(.halfOpen(0, 1)) }
        var schedule: Schedule?
        if let scheduleNode = map.optional("schedule") {
            if let sparsityNode {
                throw RecipeError.conflict(sparsityNode.location, problem: "sparsity is set together with a schedule",
                                           hint: "remove sparsity; the schedule's final is the target")
            }
            schedule = try decodeSchedule(scheduleNode)
            if pattern != .unstructured, let value = map.optional("pattern") {
                throw RecipeError.conflict(value.location, problem: "a schedule prunes gradually, which needs the unstructured pattern, but pattern is \(pattern)",
                                           hint: "remove the schedule for one-shot N:M pruning, or the pattern")
            }
        }
        let sparsity: Double
        if let implied = pattern.impliedSparsity {
            if let given, let sparsityNode, abs(given - implied) > 1e-9 {
                throw RecipeError.conflict(sparsityNode.location,
                                           problem: "sparsity \(given) contradicts pattern \(pattern), which gives \(implied)",
                                           hint: "remove sparsity or set it to \(implied)")
            }
            sparsity = implied
        } else if let schedule {
            sparsity = schedule.final
        } else {
            sparsity = try map.required("sparsity", hint: "give a fraction of weights to zero, or an N:M pattern").number(.halfOpen(0, 1))
        }
        return PrunePass(method: method, sparsity: sparsity, pattern: pattern, scope: scope, schedule: schedule, selector: selector)
    }

    /// Parses `unstructured` or `N:M`.
    static func decodePattern(_ node: RecipeNode) throws -> SparsityPattern {
        let text = try node.string()
        if text == "unstructured" { return .unstructured }
        let allowed = "'unstructured' or 'N:M' with integers 1 ≤ N < M ≤ \(maximumGroup)"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]), n >= 1, n < m, m <= maximumGroup else {
            throw RecipeError.outOfRange(node.location, allowed: allowed, found: "'\(text)'")
        }
        return .nOfM(n: n, m: m)
    }

    private static func decodeSchedule(_ node: RecipeNode) throws -> Schedule {
        let map = try node.mapping(scheduleFields)
        let initial = try map.optional("initial", default: 0) { try $0.number(.halfOpen(0, 1)) }
        let finalNode = try map.required("final")
        let final = try finalNode.number(.halfOpen(0, 1))
        guard final >= initial else {
            throw RecipeError.outOfRange(finalNode.location, allowed: "a number in [\(initial), 1) (at least initial)", found: "\(final)")
        }
        let start = try map.optional("start_step", default: 0) { try $0.int(atLeast: 0) }
        let endNode = try map.required("end_step")
        let end = try endNode.int(atLeast: start + 1)
        let every = try map.optional("update_every", default: 100) { try $0.int(atLeast: 1) }
        let training = try TrainingOptions.decode(map)
        guard end <= training.steps else {
            throw RecipeError.outOfRange(endNode.location, allowed: "at most steps (\(training.steps))", found: "\(end)")
        }
        return Schedule(initial: initial, final: final, startStep: start, endStep: end, updateEvery: every, training: training)
    }

    // MARK: encoding

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            e.set("method", method)
            if schedule == nil { e.set("sparsity", sparsity) }
            e.set("pattern", pattern.description)
            e.set("scope", scope)
            if let schedule {
                e.set("schedule", RecipeEncoding.mapping { s in
                    s.set("initial", schedule.initial)
                    s.set("final", schedule.final)
                    s.set("start_step", schedule.startStep)
                    s.set("end_step", schedule.endStep)
                    s.set("update_every", schedule.updateEvery)
                    schedule.training.encode(into: &s)
                })
            }
            SelectionFields.encode(selector, into: &e)
        }
    }

    // MARK: running

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        if let schedule { return try runGradually(schedule, on: state, context: context) }
        let layers = try context.selectedLinears(selector, in: state)
        let norms = method == .wanda ? try context.inputNorms(state) : [:]
        let configuration = UnstructuredPruning.Configuration(
            method: method, sparsity: pattern == .unstructured ? sparsity : nil, pattern: pattern, scope: scope)
        do {
            let results = try UnstructuredPruning(configuration).apply(to: layers, inputNorms: norms)
            let pruned = results.reduce(0) { $0 + $1.mask.prunedCount }, total = results.reduce(0) { $0 + $1.mask.prunedCount + $1.mask.keptCount }
            return "\(method.rawValue) \(pattern) on \(layers.count) layers: sparsity \(String(format: "%.4f", Double(pruned) / Double(max(total, 1))))"
        } catch {
            throw context.failure("\(error)")
        }
    }

    /// With a `schedule`: gradual magnitude or Wanda pruning with recovery. A copy of the model
    /// fine-tunes against the model entering the stage (the same losses as `qat`); after every
    /// `update_every` steps the masks are recomputed at the schedule's sparsity (Zhu & Gupta's
    /// cubic ramp), and after every step the current masks are re-applied, so pruned weights stay
    /// zero while the others recover. Wanda's input norms come once from the entering model.
    private func runGradually(_ schedule: Schedule, on state: CompressionState, context: PassContext) throws -> String {
        _ = try context.selectedLinears(selector, in: state)   // fails early when nothing is selected
        let norms = method == .wanda ? try context.inputNorms(state) : [:]
        var pass = try context.recoveryPass(schedule.training, label: context.label + ".schedule", state)
        var layers: [(name: String, layer: Linear)] = []
        var masks: [SparsityMask] = []
        let (selector, scope, method) = (self.selector, self.scope, self.method)
        var updates: [String] = []
        pass.prepareStudent = { student in
            layers = selector.layers(Linear.self, in: student.container)
            // A resumed run's pruned weights are exactly zero: its masks are where they are not.
            masks = layers.map { SparsityMask(nonZerosOf: $0.layer.weight.value) }
            return []
        }
        pass.afterStep = { step in
            if schedule.updates(atStep: step) {
                let target = schedule.sparsity(atStep: step)
                let results = try UnstructuredPruning(.init(method: method, sparsity: target, pattern: .unstructured, scope: scope))
                    .apply(to: layers, inputNorms: norms)
                masks = results.map(\.mask)
                updates.append(String(format: "%d:%.3f", step, target))
            } else {
                for ((_, layer), mask) in zip(layers, masks) { layer.weight.value = mask.apply(to: layer.weight.value) }
            }
        }
        let result = try context.train(pass, state)
        // The best state kept by evaluation may predate the last update: apply the final masks.
        for ((_, layer), mask) in zip(layers, masks) { layer.weight.value = mask.apply(to: layer.weight.value) }
        state.model = result.student
        state.quantized = [:]
        state.ggmlQuantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = [:]
        let pruned = masks.reduce(0) { $0 + $1.prunedCount }, total = masks.reduce(0) { $0 + $1.count }
        return "\(method.rawValue) gradual pruning of \(layers.count) layers to sparsity \(String(format: "%.4f", Double(pruned) / Double(max(total, 1)))) over \(result.training.steps) steps (mask updates \(updates.joined(separator: " "))), final loss \(String(format: "%.5f", result.training.finalLoss))"
    }
}

// Recipe spellings of the pruners' own types: their raw values.
extension PruningMethod: RecipeChoice {}
extension UnstructuredPruning.Scope: RecipeChoice {}
