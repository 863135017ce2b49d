/// The training-loop settings shared by every training pass (`distill`, `qat`, `prune` with a
/// schedule): keys of the pass's own mapping.
public struct TrainingOptions: Equatable {
    public init(data: String, steps: Int) {
        self.data = data
        self.steps = steps
    }

    /// Training text: unlabelled sentences, or `label<TAB>text` for classifiers.
    public var data: String
    public var steps: Int
    public var batchSize = 32
    public var learningRate = 5e-5
    /// Linear warm-up steps before the cosine decay.
    public var warmup = 0
    /// Evaluate on the recipe's tasks every N steps (0: only at the end).
    public var evalEvery = 0
    /// Write a resumable checkpoint every N steps (0: never).
    public var checkpointEvery = 0

    static let fields: [RecipeField] = [
        RecipeField("data", "string", required: true, allowed: "a file path", "Training text: one sentence a line, or label<TAB>text."),
        RecipeField("steps", "integer", required: true, allowed: "≥ 1", "Optimizer steps."),
        RecipeField("batch_size", "integer", default: "32", allowed: "≥ 1", "Sentences per step."),
        RecipeField("learning_rate", "number", default: "5e-05", allowed: "> 0", "Peak AdamW learning rate."),
        RecipeField("warmup", "integer", default: "0", allowed: "0…steps-1", "Linear warm-up steps before cosine decay."),
        RecipeField("eval_every", "integer", default: "0", allowed: "≥ 0", "Evaluate every N steps and keep the best state (0: at the end only)."),
        RecipeField("checkpoint_every", "integer", default: "0", allowed: "≥ 0", "Checkpoint every N steps for --resume (0: never)."),
    ]

    static func decode(_ map: RecipeMapping) throws -> TrainingOptions {
        let steps = try map.required("steps").int(atLeast: 1)
        var options = TrainingOptions(data: try map.required("data", hint: "name the training text file").string(), steps: steps)
        options.batchSize = try map.optional("batch_size", default: 32) { try $0.int(atLeast: 1) }
        options.learningRate = try map.optional("learning_rate", default: 5e-5) { try $0.number(.greaterThan(0)) }
        options.warmup = try map.optional("warmup", default: 0) { try $0.int(0...(steps - 1)) }
        options.evalEvery = try map.optional("eval_every", default: 0) { try $0.int(atLeast: 0) }
        options.checkpointEvery = try map.optional("checkpoint_every", default: 0) { try $0.int(atLeast: 0) }
        return options
    }

    /// Writes the training keys into the pass's mapping.
    func encode(into e: inout RecipeEncoding) {
        e.set("data", data)
        e.set("steps", steps)
        e.set("batch_size", batchSize)
        e.set("learning_rate", learningRate)
        e.set("warmup", warmup)
        e.set("eval_every", evalEvery)
        e.set("checkpoint_every", checkpointEvery)
    }
}
