import NanoModels

/// The names of the metrics the tasks report: the keys of `StageReport.metrics` and of
/// `report.json`'s `metrics` objects.
public enum MetricKey: String, CaseIterable, Codable, Sendable {
    case cosineMean = "cosine_mean"
    case cosineMin = "cosine_min"
    case retrievalTop1 = "retrieval_top1"
    case retrievalMRR = "retrieval_mrr"
    case accuracy
    case macroF1 = "macro_f1"
    case spearman
    case perplexity
    /// llama.cpp's standard error of the perplexity (llama.cpp's chunks only).
    case perplexityStandardError = "perplexity_stderr"
    /// Mean NLL (nats) per UTF-8 byte of the scored tokens' text: comparable across tokenizers
    /// (llama.cpp's chunks only).
    case nllPerByte = "nll_per_byte"
    case klMean = "kl_mean"
    case klMedian = "kl_median"
    case klP99 = "kl_p99"
    case klMax = "kl_max"
    case sameTop = "same_top"
    case deltaPerplexity = "delta_perplexity"
    /// `kl_divergence` of a model whose vocabulary lacks some of the reference's tokens: the
    /// reference's mean probability mass on those tokens (the KL's rest bucket).
    case klRestMass = "kl_rest_mass"

    /// Whether a larger value is better: not for perplexity, its error, KL or Δ perplexity.
    public var higherIsBetter: Bool {
        switch self {
        case .perplexity, .perplexityStandardError, .nllPerByte, .klMean, .klMedian, .klP99, .klMax, .deltaPerplexity, .klRestMass: return false
        default: return true
        }
    }
}

/// One evaluation of a model on a data file, as a recipe's `evaluation:` list names it. Paths are
/// as given (relative to the working folder); `limit` keeps the first N records (see
/// `EvaluationData`).
///
/// | task | data | models | metrics |
/// | --- | --- | --- | --- |
/// | `fidelity` | one sentence a line | all; needs the reference | `cosine_mean`, `cosine_min` (classifiers also `same_top`, `kl_mean`) |
/// | `retrieval` | `query<TAB>target` | sentence encoder | `retrieval_top1`, `retrieval_mrr` |
/// | `classification` | `label<TAB>text`, train and test | sentence encoder (nearest centroid), classifier (argmax) | `accuracy`, `macro_f1` |
/// | `similarity` | `a<TAB>b<TAB>score` | sentence encoder | `spearman` |
/// | `perplexity` | plain text | decoder | `perplexity` (`perplexity_stderr`, `nll_per_byte`) |
/// | `kl_divergence` | plain text | decoder; needs the reference | `kl_mean`, `kl_median`, `kl_p99`, `kl_max`, `same_top`, `delta_perplexity` (`kl_rest_mass` when the vocabularies differ) |
///
/// `context` (tokens a chunk) selects llama.cpp's chunked scoring for the language-model tasks;
/// see `PerplexityEvaluation` and `KLDivergenceEvaluation`.
public enum EvaluationTask: Equatable, Sendable {
    case fidelity(data: String, limit: Int? = nil)
    case retrieval(data: String, limit: Int? = nil)
    case classification(train: String, test: String)
    case similarity(data: String)
    case perplexity(data: String, limit: Int? = nil, context: Int? = nil)
    case klDivergence(data: String, limit: Int? = nil, context: Int? = nil)

    /// The task's name in recipes and reports.
    public var name: String {
        switch self {
        case .fidelity: return "fidelity"
        case .retrieval: return "retrieval"
        case .classification: return "classification"
        case .similarity: return "similarity"
        case .perplexity: return "perplexity"
        case .klDivergence: return "kl_divergence"
        }
    }

    /// The metrics this task reports.
    public var metricKeys: [MetricKey] {
        switch self {
        case .fidelity: return [.cosineMean, .cosineMin]
        case .retrieval: return [.retrievalTop1, .retrievalMRR]
        case .classification: return [.accuracy, .macroF1]
        case .similarity: return [.spearman]
        case .perplexity: return [.perplexity, .perplexityStandardError, .nllPerByte]
        case .klDivergence: return [.klMean, .klMedian, .klP99, .klMax, .sameTop, .deltaPerplexity, .klRestMass]
        }
    }

    /// Whether the task compares with the uncompressed model (`fidelity`, `kl_divergence`).
    public var needsReference: Bool {
        switch self {
        case .fidelity, .klDivergence: return true
        default: return false
        }
    }

    /// The task's metrics for `model`, keyed by `MetricKey` raw values. `reference` is the
    /// uncompressed model, required by `fidelity` and `kl_divergence` and ignored by the others.
    public func evaluate(_ model: EvaluatedModel, reference: EvaluatedModel? = nil, batchSize: Int = 32) throws -> [String: Double] {
        let metrics: [MetricKey: Double]
        switch self {
        case .fidelity(let data, let limit):
            guard let reference else { throw EvaluationError.referenceRequired(task: name) }
            metrics = try FidelityEvaluation.evaluate(model, reference: reference, data: data, limit: limit, batchSize: batchSize)
        case .retrieval(let data, let limit):
            metrics = try RetrievalEvaluation.evaluate(model, data: data, limit: limit, batchSize: batchSize)
        case .classification(let train, let test):
            metrics = try ClassificationEvaluation.evaluate(model, train: train, test: test, batchSize: batchSize)
        case .similarity(let data):
            metrics = try SimilarityEvaluation.evaluate(model, data: data, batchSize: batchSize)
        case .perplexity(let data, let limit, let context):
            metrics = try PerplexityEvaluation.evaluate(model, data: data, limit: limit, context: context, batchSize: batchSize)
        case .klDivergence(let data, let limit, let context):
            guard let reference else { throw EvaluationError.referenceRequired(task: name) }
            metrics = try KLDivergenceEvaluation.evaluate(model, reference: reference, data: data, limit: limit, context: context,
                                                          batchSize: batchSize)
        }
        return Dictionary(uniqueKeysWithValues: metrics.map { ($0.key.rawValue, $0.value) })
    }

    /// All tasks' metrics merged into one dictionary (a later task's key wins on a clash).
    public static func evaluate(_ tasks: [EvaluationTask], model: EvaluatedModel, reference: EvaluatedModel?,
                                batchSize: Int = 32) throws -> [String: Double] {
        var all: [String: Double] = [:]
        for task in tasks {
            all.merge(try task.evaluate(model, reference: reference, batchSize: batchSize)) { _, new in new }
        }
        return all
    }

    /// The sentence encoder inside `model`, or the error saying this task needs one.
    public static func sentenceEncoder(_ model: EvaluatedModel, task: String) throws -> any SentenceEmbedding {
        guard let encoder = model.embedder else {
            throw EvaluationError.unsupported(task: task, model: model.kindName, hint: "it needs a sentence encoder")
        }
        return encoder
    }
}
