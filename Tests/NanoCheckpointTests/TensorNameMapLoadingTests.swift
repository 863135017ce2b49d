import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// A family whose checkpoints store Keras-style names and [in, out] kernels: what a non-identity
/// `TensorNameMap` looks like to the loader.
enum KerasStyleMLPArchitecture: ModelArchitecture {
    typealias Configuration = MLPClassifier.Configuration
    typealias Model = MLPClassifier
    static let name = "keras_style_mlp"
    static let tasks: [ModelTask] = [.classLogits]
    static let inputAdapter = InputAdapterKind.features
    static func configuration(of model: MLPClassifier) -> Configuration { model.configuration }
    static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> MLPClassifier { MLPClassifier(c, rng: &rng) }
    static func summary(_ c: Configuration) -> String { name }
    static func tensorNames(_ c: Configuration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        TensorNameMap(entries: [.init(stored: "dense_{i}/kernel", parameter: "layers.{i}.weight", transform: .transpose),
                                .init(stored: "dense_{i}/bias", parameter: "layers.{i}.bias")])
    }
}

@Suite struct TensorNameMapLoadingTests {
    static let spec = ModelSpec(KerasStyleMLPArchitecture.self, .init(inputs: 3, hidden: [4], classes: 2))

    static func store(dropping: String? = nil) -> (TensorStore, MLPClassifier) {
        var rng = RandomGenerator(seed: 9)
        let model = MLPClassifier(.init(inputs: 3, hidden: [4], classes: 2), rng: &rng)
        var tensors: [StoredTensor] = []
        for (i, layer) in model.layers.enumerated() {
            tensors.append(.encoding(layer.weight.value.transposed(), name: "dense_\(i)/kernel"))
            tensors.append(.encoding(layer.bias!.value, name: "dense_\(i)/bias"))
        }
        return (TensorStore(tensors: tensors.filter { $0.name != dropping }, source: "m.safetensors"), model)
    }

    @Test func loadsThroughRenamesAndTransposes() throws {
        let (store, original) = Self.store()
        let loaded = try ModelLoader.build(Self.spec, from: store)
        #expect(loaded.architecture == KerasStyleMLPArchitecture.self)
        for ((name, a), (_, b)) in zip(original.namedParameters, loaded.container.namedParameters) {
            #expect(a.value == b.value, "\(name)")
        }
    }

    @Test func errorsNameTheStoredTensor() throws {
        let (store, _) = Self.store(dropping: "dense_1/kernel")
        #expect(throws: CheckpointError.missingTensor(file: "m.safetensors", tensor: "dense_1/kernel")) {
            try ModelLoader.build(Self.spec, from: store)
        }
        var (full, _) = Self.store()
        full = TensorStore(tensors: full.names.map { full[$0]! } + [.encoding(Tensor.zeros([2]), name: "dense_7/extra")], source: "m.safetensors")
        #expect(throws: CheckpointError.unexpectedTensor(file: "m.safetensors", tensor: "dense_7/extra")) {
            try ModelLoader.build(Self.spec, from: full)
        }
    }
}
