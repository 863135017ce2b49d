import NanoModels

/// A model built from a checkpoint.
public enum LoadedModel {
    case bert(BertEncoder)
    case decoder(GPTDecoder)
    case mlp(MLPClassifier)

    public var container: ParameterContainer {
        switch self {
        case .bert(let m): return m
        case .decoder(let m): return m
        case .mlp(let m): return m
        }
    }

    /// The spec this model was built from.
    public var spec: ModelSpec {
        switch self {
        case .bert(let m): return .bert(m.configuration)
        case .decoder(let m): return .decoder(m.configuration)
        case .mlp(let m): return .mlp(m.configuration)
        }
    }
}
