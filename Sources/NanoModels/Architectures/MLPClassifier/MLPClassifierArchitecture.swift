import NanoTensor

/// The MLP classifier family (the bundled digits model), read from its native `mlp_classifier`
/// config; class logits of feature rows.
public enum MLPClassifierArchitecture: ModelArchitecture {
    public typealias Configuration = MLPClassifier.Configuration
    public typealias Model = MLPClassifier

    public static let name = "mlp_classifier"
    public static let tasks: [ModelTask] = [.classLogits]
    public static let inputAdapter = InputAdapterKind.features

    public static func configuration(of model: MLPClassifier) -> Configuration { model.configuration }

    public static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> MLPClassifier {
        MLPClassifier(c, rng: &rng)
    }

    public static func summary(_ c: Configuration) -> String {
        "mlp_classifier: \(([c.inputs] + c.hidden + [c.classes]).map(String.init).joined(separator: "→"))"
    }
}

extension ModelSpec {
    /// An MLP classifier's spec.
    public static func mlp(_ c: MLPClassifier.Configuration) -> ModelSpec { ModelSpec(MLPClassifierArchitecture.self, c) }
}

extension LoadedModel {
    /// A built MLP classifier.
    public static func mlp(_ model: MLPClassifier) -> LoadedModel { LoadedModel(MLPClassifierArchitecture.self, model) }
}

extension MLPClassifier: ClassLogitsModel {
    public var featureCount: Int { configuration.inputs }
    public var classCount: Int { configuration.classes }
    public func classLogits(_ x: Variable, tape: Tape) -> Variable { self(x, tape: tape) }
}
