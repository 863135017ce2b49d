import Foundation
import NanoModels
import Yams

/// The `distill` pass: trains a student from one or more teachers (or the model entering the
/// stage) through `DistillationPass`, which takes this configuration as its options; the
/// recipe's first evaluation task picks the best state; checkpoints go to
/// `<output.dir>.checkpoints/stage-<index>/`.
public struct DistillPass: CompressionPass {
    /// A teacher checkpoint, or a teacher behind an OpenAI-compatible endpoint, and its weight
    /// among several teachers.
    public struct Teacher: Equatable {
        /// The checkpoint; for an endpoint teacher, its URL (what messages name).
        public var path: String
        public var weight: Double = 1
        /// Set for a teacher behind an endpoint (language models only).
        public var endpoint: EndpointTeacherOptions?
    }

    /// A distillation loss term.
    public enum LossKind: String, RecipeChoice {
        case logitKL = "logit_kl", hiddenMSE = "hidden_mse", attentionKL = "attention_kl"
        case embeddingCosine = "embedding_cosine", embeddingMSE = "embedding_mse", task
        /// KL(student ‖ teacher) of next-token distributions (language models).
        case reverseKL = "reverse_kl"

        /// Whether `temperature` applies.
        var tempered: Bool { self == .logitKL || self == .attentionKL || self == .reverseKL }
    }

    /// One weighted loss term; `temperature` applies to the KL losses.
    public struct Loss: Equatable {
        public var kind: LossKind
        public var weight: Double = 1
        public var temperature: Double = 1
    }

    /// Teachers; empty means the model as it enters this stage.
    public var teachers: [Teacher] = []
    /// Teacher layers the student keeps (DistilBERT-style layer dropping).
    public var layers: [Int]?
    public var hidden: Int?
    public var intermediate: Int?
    public var heads: Int?
    /// A fresh student configuration file instead of a shrunk teacher.
    public var config: String?
    public var losses: [Loss]
    /// An HDF5 file caching the teachers' outputs over `data`: sentence embeddings for encoders
    /// (`TeacherCache`), top-k next-token distributions for language models (`TeacherTopKCache`).
    public var teacherCache: String?
    /// Language models: tokens per training window.
    public var sequenceLength = 256
    /// Language models: how many of the teacher's most likely next tokens the losses see (the
    /// rest is one bucket); also what the teacher cache stores per position.
    public var teacherTopK = 64
    /// Image classifiers: augment every training image anew each step (`ImageAugmentation`).
    public var augment = false
    public var training: TrainingOptions

    public init(losses: [Loss], training: TrainingOptions) {
        self.losses = losses
        self.training = training
    }

    public static let key = "distill"
    public static let summary = "Trains a smaller student from one or more teachers with weighted distillation losses."
    public static let shapeEffect = ShapeEffect.shrinks
    public var layerSelection: LayerSelector? { nil }
    public var trains: Bool { true }
    public static let nestedFields = [(title: "Each item of `losses`:", fields: lossFields),
                                      (title: "Each item of `teachers`:", fields: EndpointTeacherOptions.fields)]

    static let lossFields: [RecipeField] = [
        RecipeField("loss", "string", required: true, allowed: RecipeField.choices(LossKind.self), "The loss term."),
        RecipeField("weight", "number", default: "1", allowed: "> 0", "Its weight in the sum."),
        RecipeField("temperature", "number", default: "1", allowed: "> 0", "Softmax temperature, for logit_kl, reverse_kl and attention_kl only."),
    ]

    public static let fields: [RecipeField] = [
        RecipeField("teachers", "list of mappings", default: "[] (the model entering the stage)", allowed: "[{path | endpoint, weight > 0, …}]",
                    "Teacher checkpoints (or, for language models, endpoints), weighted for multi-teacher distillation."),
        RecipeField("layers", "list of integers", allowed: "distinct, ≥ 0, ascending", "Teacher layers the student keeps."),
        RecipeField("hidden", "integer", allowed: "≥ 1", "Student hidden width (importance-based shrinking)."),
        RecipeField("intermediate", "integer", allowed: "≥ 1", "Student feed-forward width."),
        RecipeField("heads", "integer", allowed: "≥ 1", "Student attention heads."),
        RecipeField("config", "string", allowed: "a file path", "A fresh student configuration; excludes layers/hidden/intermediate/heads."),
        RecipeField("losses", "list of mappings", required: true, allowed: "[{loss, weight, temperature}]", "Loss terms, summed with weights."),
        RecipeField("teacher_cache", "string", allowed: "a file path (HDF5)",
                    "Caches the teachers' outputs over `data` (sentence embeddings; for language models the top-k next-token distributions, and with hidden_mse the last hidden states as Float16), keyed by the teachers' weights and the data file; a mismatching file is an error (delete it to rebuild)."),
        RecipeField("sequence_length", "integer", default: "256", allowed: "≥ 2", "Language models: tokens per training window (capped at the model's context)."),
        RecipeField("teacher_top_k", "integer", default: "64", allowed: "≥ 1",
                    "Language models: the teacher's most likely next tokens the KL losses compare; the rest of its mass is one bucket."),
        RecipeField("augment", "boolean", default: "false", allowed: "true | false",
                    "Image classifiers (Keras graphs), whose `data` is rows of image features (the last tab-separated column): every image is changed anew each step, seeded: flipped left–right with probability 1/2, shifted by up to 4 pixels (edges repeated), contrast and brightness x·a + b with a in [0.9, 1.1], b in [−0.1, 0.1]; half of the images are then blended with another augmented one, λ·x + (1 − λ)·y with λ in [0.5, 1] (mixup; the teacher scores the blend)."),
    ] + TrainingOptions.fields

    public static func decode(_ node: RecipeNode) throws -> DistillPass {
        let map = try node.mapping(fields)
        let training = try TrainingOptions.decode(map)
        let lossesNode = try map.required("losses", hint: "e.g. losses: [{loss: embedding_cosine}]")
        let lossNodes = try lossesNode.list()
        guard !lossNodes.isEmpty else { throw RecipeError.outOfRange(lossesNode.location, allowed: "at least one loss", found: "an empty list") }
        let losses = try lossNodes.map { item -> Loss in
            let sub = try item.mapping(lossFields)
            var loss = Loss(kind: try sub.required("loss").choice(LossKind.self))
            loss.weight = try sub.optional("weight", default: 1) { try $0.number(.greaterThan(0)) }
            if let temperature = sub.optional("temperature") {
                guard loss.kind.tempered else {
                    throw RecipeError.conflict(temperature.location, problem: "temperature applies to logit_kl, reverse_kl and attention_kl, not \(loss.kind.rawValue)",
                                               hint: "remove temperature")
                }
                loss.temperature = try temperature.number(.greaterThan(0))
            }
            return loss
        }
        var options = DistillPass(losses: losses, training: training)
        options.teacherTopK = try map.optional("teacher_top_k", default: 64) { try $0.int(atLeast: 1) }
        options.teachers = try map.optional("teachers", default: []) { list in
            try list.list().map { item in try Self.teacher(item, topK: options.teacherTopK, losses: losses) }
        }
        if let layersNode = map.optional("layers") {
            let layers = try layersNode.list().map { try $0.int(atLeast: 0) }
            guard !layers.isEmpty, zip(layers, layers.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw RecipeError.outOfRange(layersNode.location, allowed: "a non-empty ascending list of distinct layer indices",
                                             found: "\(layers)")
            }
            options.layers = layers
        }
        options.teacherCache = try map.optional("teacher_cache").map { try $0.string() }
        options.sequenceLength = try map.optional("sequence_length", default: 256) { try $0.int(atLeast: 2) }
        options.augment = try map.optional("augment", default: false) { try $0.bool() }
        options.hidden = try map.optional("hidden").map { try $0.int(atLeast: 1) }
        options.intermediate = try map.optional("intermediate").map { try $0.int(atLeast: 1) }
        options.heads = try map.optional("heads").map { try $0.int(atLeast: 1) }
        if let configNode = map.optional("config") {
            if let key = ["layers", "hidden", "intermediate", "heads"].first(where: map.contains) {
                throw RecipeError.conflict(configNode.location, problem: "config is set together with \(key)",
                                           hint: "describe the student either by config or by shrinking the teacher")
            }
            options.config = try configNode.string()
        }
        return options
    }

    /// One item of `teachers`: `path` or `endpoint` (with its own fields), and `weight`.
    static func teacher(_ item: RecipeNode, topK: Int, losses: [Loss]) throws -> Teacher {
        let sub = try item.mapping(EndpointTeacherOptions.fields)
        let weight = try sub.optional("weight", default: 1) { try $0.number(.greaterThan(0)) }
        guard let endpointNode = sub.optional("endpoint") else {
            if let key = EndpointTeacherOptions.endpointKeys.first(where: sub.contains), let node = sub.optional(key) {
                throw RecipeError.conflict(node.location, problem: "\(key) applies to a teacher behind an endpoint", hint: "add endpoint, or remove \(key)")
            }
            return Teacher(path: try sub.required("path", hint: "a teacher checkpoint, or endpoint: URL").string(), weight: weight)
        }
        if let path = sub.optional("path") {
            throw RecipeError.conflict(path.location, problem: "a teacher has both path and endpoint", hint: "keep one of them")
        }
        let endpoint = try EndpointTeacherOptions.decode(sub)
        if let k = endpoint.topLogprobs, k < topK, let node = sub.optional("top_logprobs") {
            throw RecipeError.outOfRange(node.location, allowed: "an integer ≥ teacher_top_k (\(topK)): the cache keeps the teacher_top_k most likely tokens of the K returned", found: "\(k)")
        }
        // The server gives temperature-1 log-probabilities of its top K only: the softened
        // distribution needs the full softmax, so it cannot be rebuilt honestly.
        if let loss = losses.first(where: { $0.kind.tempered && $0.temperature != 1 }) {
            throw RecipeError.conflict(endpointNode.location, problem: "an endpoint teacher gives temperature-1 distributions (its top log-probabilities), and \(loss.kind.rawValue) has temperature \(loss.temperature)",
                                       hint: "use temperature 1 with endpoint teachers")
        }
        return Teacher(path: endpoint.url, weight: weight, endpoint: endpoint)
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            if !teachers.isEmpty {
                e.set("teachers", Node(teachers.map { t in
                    RecipeEncoding.mapping {
                        if let endpoint = t.endpoint { endpoint.encode(into: &$0) } else { $0.set("path", t.path) }
                        $0.set("weight", t.weight)
                    }
                }))
            }
            e.set("layers", ints: layers)
            e.set("hidden", hidden)
            e.set("intermediate", intermediate)
            e.set("heads", heads)
            e.set("config", config)
            e.set("losses", Node(losses.map { loss in
                RecipeEncoding.mapping { l in
                    l.set("loss", loss.kind)
                    l.set("weight", loss.weight)
                    if loss.kind.tempered { l.set("temperature", loss.temperature) }
                }
            }))
            e.set("teacher_cache", teacherCache)
            if sequenceLength != 256 { e.set("sequence_length", sequenceLength) }
            if teacherTopK != 64 { e.set("teacher_top_k", teacherTopK) }
            if augment { e.set("augment", augment) }
            training.encode(into: &e)
        }
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        let label = context.label
        var files = [(training.data, "data")] + teachers.enumerated().filter { $0.element.endpoint == nil }.map { ($0.element.path, "teachers[\($0.offset)].path") }
        if let config { files.append((config, "config")) }
        for (path, field) in files where !FileManager.default.fileExists(atPath: path) {
            throw PipelineError.missingFile(recipe: context.recipe.file, field: "\(label).\(field)", path: path)
        }
        let teacherModels = try teachers.isEmpty
            ? [DistillationPass.Teacher(model: state.model)]
            : teachers.map { t -> DistillationPass.Teacher in
                if let endpoint = t.endpoint { return DistillationPass.Teacher(endpoint: endpoint, weight: t.weight) }
                return DistillationPass.Teacher(model: try EvaluatedModel.load(path: t.path, recipe: context.recipe.file).model, weight: t.weight)
            }
        var pass = DistillationPass(options: self, loop: context.trainingLoop(training))
        // The score that picks the best state: the first evaluation task's first metric
        // (cosine_mean for fidelity), negated when lower is better (perplexity).
        if let task = context.tasks.first, let key = task.metricKeys.first {
            let (reference, log) = (context.reference, context.log)
            pass.evaluate = { model in
                let value = try task.evaluate(model, reference: reference)[key.rawValue] ?? -.infinity
                log("\(label): evaluation: \(task.name) \(key.rawValue) \(String(format: "%.4f", value))")
                return key.higherIsBetter ? value : -value
            }
        } else if training.evalEvery > 0 {
            context.log("\(label): eval_every is set but the recipe has no evaluation task; the final state is kept")
        }
        pass.progress = context.trainingProgress(label)
        pass.log = { [log = context.log] in log("\(label): \($0)") }
        let teacherDescription = teacherModels[0].endpoint.map { "endpoint \($0.model) at \($0.url)" }
            ?? "teacher \(teacherModels[0].model.container.parameterCount)"
        let result = try context.train(pass, state, teachers: teacherModels)
        if let resumed = result.training.resumedFrom { context.log("\(label): resumed from the checkpoint at step \(resumed)") }
        state.model = result.student
        // Every student layer is new and trained, so packed forms, weight errors and activation
        // scales recorded for the entering model describe none of it any more.
        state.quantized = [:]
        state.ggmlQuantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = [:]
        var summary = "student \(result.parameterCount) parameters (\(teacherDescription))"
        if let e = result.student.sentenceEncoder { summary += ", \(e.encoder.configuration.layers) layers" }
        if let bytes = result.teacherTopKBytes { summary += ", teacher top-\(teacherTopK) distributions \(String(format: "%.1f", Double(bytes) / 1_048_576)) MiB" }
        summary += ", \(result.training.steps) steps on \(result.examples) examples, final loss \(String(format: "%.5f", result.training.finalLoss))"
        if let score = result.training.bestScore, let step = result.training.bestStep {
            summary += ", best score \(String(format: "%.4f", score)) at step \(step)"
        }
        return summary
    }
}
