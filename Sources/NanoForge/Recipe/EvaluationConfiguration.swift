/// One evaluation task of a recipe, run on the baseline and after every stage.
public struct EvaluationConfiguration: Equatable {
    public enum Task: String, RecipeChoice { case fidelity, retrieval, classification, similarity, perplexity
        case klDivergence = "kl_divergence"
    }

    public var task: Task
    /// The data file: plain text (fidelity, perplexity) or TSV (retrieval, similarity).
    public var data: String?
    /// Classification training file (`label<TAB>text`).
    public var train: String?
    /// Classification test file (`label<TAB>text`).
    public var test: String?
    /// Use at most this many lines or pairs (chunks, for llama.cpp's chunked scoring).
    public var limit: Int?
    /// perplexity and kl_divergence: tokens a chunk, llama.cpp's `-c` (see `PerplexityEvaluation`).
    public var context: Int?

    static let fields: [RecipeField] = [
        RecipeField("task", "string", required: true, allowed: RecipeField.choices(Task.self),
                    "fidelity: cosine to the uncompressed model; retrieval: top-1 and MRR on query<TAB>target pairs; classification: accuracy and macro-F1; similarity: Spearman on a<TAB>b<TAB>score; perplexity: decoders (llama.cpp's chunks for token-level models, or with context); kl_divergence: KL to the uncompressed decoder's next-token distributions, top-token agreement and Δ perplexity, on llama.cpp's chunks."),
        RecipeField("data", "string", allowed: "a file path", "Data file; required for every task but classification."),
        RecipeField("train", "string", allowed: "a file path", "classification only: label<TAB>text training file (centroids)."),
        RecipeField("test", "string", allowed: "a file path", "classification only: label<TAB>text test file; required."),
        RecipeField("limit", "integer", allowed: "≥ 1", "Use at most this many examples (perplexity with llama.cpp's chunks, kl_divergence: chunks)."),
        RecipeField("context", "integer", default: "min(512, context length)", allowed: "3 … the model's context length",
                    "perplexity and kl_divergence only: tokens a chunk; each chunk's second half is scored (llama.cpp's -c). Given for a character decoder's perplexity, it selects these chunks over the earlier every-character windows."),
    ]

    static func decode(_ node: RecipeNode) throws -> EvaluationConfiguration {
        let map = try node.mapping(fields)
        let task = try map.required("task").choice(Task.self)
        var configuration = EvaluationConfiguration(task: task)
        configuration.limit = try map.optional("limit").map { try $0.int(atLeast: 1) }
        if let context = map.optional("context") {
            guard task == .perplexity || task == .klDivergence else {
                throw RecipeError.conflict(context.location, problem: "'context' applies to perplexity and kl_divergence only, not \(task.rawValue)",
                                           hint: "remove context")
            }
            configuration.context = try context.int(atLeast: 3)
        }
        if task == .classification {
            configuration.train = try map.optional("train").map { try $0.string() }
            configuration.test = try map.required("test", hint: "classification needs a label<TAB>text test file").string()
            if let data = map.optional("data") {
                throw RecipeError.conflict(data.location, problem: "classification reads 'train' and 'test', not 'data'",
                                           hint: "rename data to test")
            }
        } else {
            configuration.data = try map.required("data", hint: "\(task.rawValue) needs a data file").string()
            if let key = ["train", "test"].first(where: map.contains), let value = map.optional(key) {
                throw RecipeError.conflict(value.location, problem: "'\(key)' applies to classification only, not \(task.rawValue)",
                                           hint: "use 'data'")
            }
        }
        return configuration
    }
}
