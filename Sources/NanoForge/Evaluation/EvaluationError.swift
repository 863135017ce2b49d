/// Why an evaluation task could not produce its metrics. Problems with the data files themselves
/// are `DataError`s (file and line) from NanoModels.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// The task does not apply to this kind of model (`retrieval` on a decoder).
    case unsupported(task: String, model: String, hint: String)
    /// The task compares against the uncompressed model and none was given.
    case referenceRequired(task: String)
    /// The model under test and the reference disagree on something the comparison needs.
    case referenceMismatch(task: String, expected: String, found: String)
    /// The data does not fit the model (a label the classifier lacks, a feature count).
    case dataMismatch(file: String, line: Int?, expected: String, found: String)
    /// The metric is undefined on this data (Spearman of a constant sample).
    case undefinedMetric(task: String, metric: String, reason: String)

    public var description: String {
        switch self {
        case .unsupported(let task, let model, let hint):
            return "task '\(task)' does not apply to a \(model) model; \(hint)"
        case .referenceRequired(let task):
            return "task '\(task)' compares with the uncompressed model, but no reference model was given"
        case .referenceMismatch(let task, let expected, let found):
            return "task '\(task)': the reference model gives \(expected), the model under test \(found)"
        case .dataMismatch(let file, let line, let expected, let found):
            return "\(file)\(line.map { ":\($0)" } ?? ""): expected \(expected), found \(found)"
        case .undefinedMetric(let task, let metric, let reason):
            return "task '\(task)': \(metric) is undefined: \(reason)"
        }
    }
}
