/// A problem met while training (the `distill` pass and the shared loop): unusable data, a student
/// the options cannot build, a checkpoint that does not match the run, a loss that diverged.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case noTrainingData(file: String, reason: String)
    case badTrainingLine(file: String, line: Int, reason: String)
    case unsupported(option: String, reason: String)
    case checkpointMismatch(path: String, reason: String)
    case nonFiniteLoss(step: Int)
    case staleTeacherCache(file: String, field: String, cached: String, expected: String)
    /// A teacher behind an endpoint failed or refused (`window` nil: before any window).
    case endpoint(url: String, window: Int?, reason: String)

    public var description: String {
        switch self {
        case .noTrainingData(let file, let reason): return "\(file): no training data: \(reason)"
        case .badTrainingLine(let file, let line, let reason): return "\(file):\(line): \(reason)"
        case .unsupported(let option, let reason): return "\(option): \(reason)"
        case .checkpointMismatch(let path, let reason):
            return "\(path): the checkpoint does not belong to this run: \(reason) (remove the folder to start over)"
        case .nonFiniteLoss(let step): return "the loss became NaN or infinite at step \(step) (lower learning_rate)"
        case .staleTeacherCache(let file, let field, let cached, let expected):
            return "\(file): the teacher cache belongs to another run: \(field) is \(cached), this run has \(expected) (delete the file to rebuild it)"
        case .endpoint(let url, let window, let reason):
            return "teacher endpoint \(url)\(window.map { " (window \($0))" } ?? ""): \(reason)"
        }
    }
}
