import Foundation
/// Options of the `prune` pass: unstructured or N:M semi-structured weight pruning, at once or
/// (with a `schedule`, issue 5) gradually during training.
public struct PruneOptions: Equatable {
    public enum Method: String, RecipeChoice { case magnitude, wanda }
    public enum Scope: String, RecipeChoice { case layer, global }

    /// Which weights may be zeroed.
    public enum Pattern: Equatable, CustomStringConvertible {
        case unstructured
        /// At most `n` non-zeros in every run of `m` consecutive weights along the input dimension.
        case nOfM(n: Int, m: Int)

        /// The sparsity the pattern implies, if any.
        public var impliedSparsity: Double? {
            if case let .nOfM(n, m) = self { return 1 - Double(n) / Double(m) }
            return nil
        }

        public var description: String {
            switch self {
            case .unstructured: return "unstructured"
            case let .nOfM(n, m): return "\(n):\(m)"
            }
        }
    }

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

    public var method: Method = .magnitude
    /// Target fraction of zeros in [0, 1); for N:M, 1 − N/M.
    public var sparsity: Double
    public var pattern: Pattern = .unstructured
    public var scope: Scope = .layer
    public var schedule: Schedule?
    public var selector: LayerSelector

    static let scheduleFields: [RecipeField] = [
        RecipeField("initial", "number", default: "0", allowed: "[0, 1)", "Sparsity at start_step."),
        RecipeField("final", "number", required: true, allowed: "[initial, 1)", "Sparsity reached at end_step."),
        RecipeField("start_step", "integer", default: "0", allowed: "≥ 0", "Training step where pruning starts."),
        RecipeField("end_step", "integer", required: true, allowed: "> start_step", "Training step where the final sparsity is reached."),
        RecipeField("update_every", "integer", default: "100", allowed: "≥ 1", "Steps between mask updates; fine-tuning recovers in between."),
    ] + TrainingOptions.fields

    static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "magnitude", allowed: RecipeField.choices(Method.self),
                    "Importance score: |W|, or Wanda's |W| · ‖X‖ from calibration activations."),
        RecipeField("sparsity", "number", required: true, allowed: "[0, 1)",
                    "Fraction of weights set to zero. Required for unstructured pruning; with N:M it may be omitted and must equal 1 − N/M if given; not allowed with a schedule."),
        RecipeField("pattern", "string", default: "unstructured", allowed: "unstructured | N:M with 1 ≤ N < M ≤ \(maximumGroup)",
                    "Unstructured, or semi-structured N:M (e.g. \"2:4\", \"4:8\"): at most N non-zeros in every M consecutive input weights."),
        RecipeField("scope", "string", default: "layer", allowed: RecipeField.choices(Scope.self),
                    "Rank weights within each layer, or across all selected layers (unstructured only)."),
        RecipeField("schedule", "mapping", allowed: "{initial, final, start_step, end_step, update_every}",
                    "Gradual pruning during training: a copy of the model fine-tunes against the model entering the stage (embedding cosine + MSE for sentence encoders, logit KL + labels for classifiers) on the schedule's `data` for `steps`, its masks recomputed every `update_every` steps on Zhu & Gupta's cubic schedule from `initial` to `final` and re-applied after every step. Unstructured pattern only; the schedule mapping also takes the training fields (data, steps, batch_size, learning_rate, warmup, eval_every, checkpoint_every)."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    static func decode(_ node: RecipeNode) throws -> PruneOptions {
        let map = try node.mapping(fields)
        let selector = try SelectionFields.decode(map, defaultTargets: ["Linear"])
        let method = try map.optional("method", default: Method.magnitude) { try $0.choice(Method.self) }
        let pattern = try map.optional("pattern", default: Pattern.unstructured, decodePattern)
        let scope = try map.optional("scope", default: Scope.layer) { try $0.choice(Scope.self) }
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
        return PruneOptions(method: method, sparsity: sparsity, pattern: pattern, scope: scope, schedule: schedule, selector: selector)
    }

    /// Parses `unstructured` or `N:M`.
    static func decodePattern(_ node: RecipeNode) throws -> Pattern {
        let text = try node.string()
        if text == "unstructured" { return .unstructured }
        let allowed = "'unstructured' or 'N:M' with integers 1 ≤ N < M ≤ \(maximumGroup)"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else {
            throw RecipeError.outOfRange(node.location, allowed: allowed, found: "'\(text)'")
        }
        guard n >= 1, n < m, m <= maximumGroup else {
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
}
