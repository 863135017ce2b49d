/// Options of the `distill` pass (issue 5): trains a student from one or more teachers.
public struct DistillOptions: Equatable {
    /// A teacher checkpoint and its weight among several teachers.
    public struct Teacher: Equatable {
        public var path: String
        public var weight: Double = 1
    }

    /// A distillation loss term.
    public enum LossKind: String, RecipeChoice {
        case logitKL = "logit_kl", hiddenMSE = "hidden_mse", attentionKL = "attention_kl"
        case embeddingCosine = "embedding_cosine", embeddingMSE = "embedding_mse", task
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
    /// An HDF5 file caching the teachers' sentence embeddings over `data` (`TeacherCache`).
    public var teacherCache: String?
    public var training: TrainingOptions

    static let lossFields: [RecipeField] = [
        RecipeField("loss", "string", required: true, allowed: RecipeField.choices(LossKind.self), "The loss term."),
        RecipeField("weight", "number", default: "1", allowed: "> 0", "Its weight in the sum."),
        RecipeField("temperature", "number", default: "1", allowed: "> 0", "Softmax temperature, for logit_kl and attention_kl only."),
    ]

    static let fields: [RecipeField] = [
        RecipeField("teachers", "list of mappings", default: "[] (the model entering the stage)", allowed: "[{path, weight > 0}]",
                    "Teacher checkpoints, weighted for multi-teacher distillation."),
        RecipeField("layers", "list of integers", allowed: "distinct, ≥ 0, ascending", "Teacher layers the student keeps."),
        RecipeField("hidden", "integer", allowed: "≥ 1", "Student hidden width (importance-based shrinking)."),
        RecipeField("intermediate", "integer", allowed: "≥ 1", "Student feed-forward width."),
        RecipeField("heads", "integer", allowed: "≥ 1", "Student attention heads."),
        RecipeField("config", "string", allowed: "a file path", "A fresh student configuration; excludes layers/hidden/intermediate/heads."),
        RecipeField("losses", "list of mappings", required: true, allowed: "[{loss, weight, temperature}]", "Loss terms, summed with weights."),
        RecipeField("teacher_cache", "string", allowed: "a file path (HDF5)",
                    "Caches the teachers' sentence embeddings over `data`, keyed by the teachers' weights and the data file; a mismatching file is an error (delete it to rebuild)."),
    ] + TrainingOptions.fields

    static func decode(_ node: RecipeNode) throws -> DistillOptions {
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
                guard loss.kind == .logitKL || loss.kind == .attentionKL else {
                    throw RecipeError.conflict(temperature.location, problem: "temperature applies to logit_kl and attention_kl, not \(loss.kind.rawValue)",
                                               hint: "remove temperature")
                }
                loss.temperature = try temperature.number(.greaterThan(0))
            }
            return loss
        }
        var options = DistillOptions(losses: losses, training: training)
        options.teachers = try map.optional("teachers", default: []) { list in
            try list.list().map { item in
                let sub = try item.mapping(keys: ["path", "weight"])
                return Teacher(path: try sub.required("path").string(),
                               weight: try sub.optional("weight", default: 1) { try $0.number(.greaterThan(0)) })
            }
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
}
