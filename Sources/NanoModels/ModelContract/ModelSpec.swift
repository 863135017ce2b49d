import Foundation
import NanoTensor

/// What a config describes: an architecture (one of ``Architectures/all``) and its
/// hyper-parameters. Family-specific code reads the configuration with `configuration(as:)`;
/// everything else goes through the architecture's protocol.
public struct ModelSpec: Equatable, @unchecked Sendable {
    /// The family.
    public let architecture: any ModelArchitecture.Type
    /// The family's `Configuration`.
    public let configuration: any Sendable

    public init<A: ModelArchitecture>(_ architecture: A.Type, _ configuration: A.Configuration) {
        self.architecture = architecture
        self.configuration = configuration
    }

    /// nanoforge's native name of the family (`bert`, `gpt_decoder`, `mlp_classifier`).
    public var architectureName: String { architecture.name }

    /// The configuration when the family's `Configuration` is `C`.
    public func configuration<C>(as type: C.Type) -> C? { configuration as? C }

    /// The family whose `recognises` accepts `source`, reading its configuration.
    public static func recognise(_ source: ConfigSource) throws -> ModelSpec {
        guard let family = Architectures.all.first(where: { $0.recognises(source) }) else {
            let field = source.convention == .huggingFace ? "model_type" : source.convention == .gguf ? "general.architecture" : "architecture"
            let found = source.names.first.map { "'\($0)'" } ?? "none"
            let known = Architectures.all.map { $0.name }.joined(separator: ", ")
            throw ConfigError(file: source.file, field: field, reason: "unknown architecture \(found) (known: \(known))")
        }
        return try family.spec(from: source)
    }

    /// One line for `nanoforge inspect`.
    public var summary: String {
        architecture.erasedSummary(configuration)
    }

    public var tasks: [ModelTask] { architecture.tasks }

    /// The stored-name map of a checkpoint in `convention` holding `storedNames`.
    public func tensorNames(convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        architecture.erasedTensorNames(configuration, convention: convention, storedNames: storedNames)
    }

    /// A model with fresh weights (see `ModelArchitecture.build`).
    public func build(parameterPaths: Set<String>, rng: inout RandomGenerator) -> LoadedModel {
        architecture.erasedBuild(configuration, parameterPaths: parameterPaths, rng: &rng)
    }

    /// The configuration as JSON (keys sorted): the body of the native config.
    public func encodedConfiguration() throws -> Data {
        try architecture.erasedEncode(configuration)
    }

    public static func == (a: ModelSpec, b: ModelSpec) -> Bool {
        a.architecture == b.architecture && a.architecture.erasedEqual(a.configuration, b.configuration)
    }
}

/// A built model of some family: its module tree and the family it belongs to.
public struct LoadedModel {
    public let architecture: any ModelArchitecture.Type
    /// The model (`BertEncoder`, `GPTDecoder`, `MLPClassifier`, …).
    public let container: ParameterContainer

    public init<A: ModelArchitecture>(_ architecture: A.Type, _ model: A.Model) {
        self.architecture = architecture
        self.container = model
    }

    /// The model when it is an `M`.
    public func `as`<M>(_ type: M.Type) -> M? { container as? M }

    /// The spec of the model as it is now (layer sizes a pass changed included).
    public var spec: ModelSpec {
        architecture.erasedSpec(of: container)
    }
}

/// The type-erased calls `ModelSpec` and `LoadedModel` make: each casts the stored configuration
/// or model back to the family's own type (they were stored by the family's initialisers).
extension ModelArchitecture {
    static func spec(from source: ConfigSource) throws -> ModelSpec { ModelSpec(self, try configuration(from: source)) }
    static func erasedSummary(_ c: any Sendable) -> String { summary(c as! Configuration) }
    static func erasedTensorNames(_ c: any Sendable, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        tensorNames(c as! Configuration, convention: convention, storedNames: storedNames)
    }
    static func erasedBuild(_ c: any Sendable, parameterPaths: Set<String>, rng: inout RandomGenerator) -> LoadedModel {
        LoadedModel(self, build(c as! Configuration, parameterPaths: parameterPaths, rng: &rng))
    }
    static func erasedEncode(_ c: any Sendable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(c as! Configuration)
    }
    static func erasedEqual(_ a: any Sendable, _ b: any Sendable) -> Bool { (a as? Configuration) == (b as? Configuration) }
    static func erasedSpec(of model: ParameterContainer) -> ModelSpec { ModelSpec(self, configuration(of: model as! Model)) }
}
