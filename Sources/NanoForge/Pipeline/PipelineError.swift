/// A problem found while running a recipe (after it decoded): a missing data file, a model the
/// recipe cannot apply to, a pass that failed on a layer.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case missingFile(recipe: String, field: String, path: String)
    case unsupportedModel(recipe: String, architecture: String, reason: String)
    case noLayersSelected(recipe: String, stage: String)
    case stageFailed(recipe: String, stage: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let r, let field, let path): return "\(r): \(field): no such file '\(path)' (run `make setup` for the bundled data)"
        case .unsupportedModel(let r, let a, let reason): return "\(r): model: a \(a) model cannot be compressed by this recipe: \(reason)"
        case .noLayersSelected(let r, let stage): return "\(r): \(stage): targets/ignore select no layer of the model"
        case .stageFailed(let r, let stage, let reason): return "\(r): \(stage): \(reason)"
        }
    }
}
