import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// The Keras graph family on hand-written Keras 2 `model_config`s: which graphs are read, the
/// shapes they infer, the forward against the tensor core's own ops, gradients through a whole
/// graph against finite differences, and the one-line errors for what nanoforge does not read.
@Suite struct KerasGraphConfigTests {
    static let file = "/models/tiny.h5"

    /// A Keras 2 layer entry of a Functional config.
    static func layer(_ className: String, _ name: String, _ config: String = "", inputs: [String]) -> String {
        let inbound = inputs.isEmpty ? "[]" : "[[" + inputs.map { "[\"\($0)\", 0, 0, {}]" }.joined(separator: ", ") + "]]"
        let extra = config.isEmpty ? "" : ", " + config
        return "{\"class_name\": \"\(className)\", \"name\": \"\(name)\", \"config\": {\"name\": \"\(name)\"\(extra)}, \"inbound_nodes\": \(inbound)}"
    }

    static func functional(_ layers: [String], output: String) -> String {
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"tiny\", \"layers\": [" + layers.joined(separator: ", ")
            + "], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"\(output)\", 0, 0]]}}"
    }

    static func source(_ json: String) throws -> ConfigSource {
        ConfigSource(convention: .huggingFace, values: try JSONParser.parse(Array(json.utf8)).configValue, file: file)
    }

    static func spec(_ json: String) throws -> ModelSpec { try ModelSpec.recognising(try source(json)) }

    /// Every layer kind but Flatten / Dense in one image graph, then Flatten → Dropout → Dense.
    static let everyKind = functional([
        layer("InputLayer", "in", "\"batch_input_shape\": [null, 9, 8, 3], \"dtype\": \"float32\"", inputs: []),
        layer("Conv2D", "conv", "\"filters\": 4, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"same\", \"use_bias\": true, \"activation\": \"relu\", \"dilation_rate\": [1, 1], \"data_format\": \"channels_last\"", inputs: ["in"]),
        layer("BatchNormalization", "bn", "\"axis\": -1, \"epsilon\": 0.001, \"center\": true, \"scale\": true", inputs: ["conv"]),
        layer("DepthwiseConv2D", "dw", "\"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", \"depth_multiplier\": 2, \"use_bias\": true, \"activation\": \"linear\", \"dilation_rate\": [2, 2]", inputs: ["bn"]),
        layer("ReLU", "relu6", "\"max_value\": 6.0, \"negative_slope\": 0.0, \"threshold\": 0.0", inputs: ["dw"]),
        layer("SeparableConv2D", "sep", "\"filters\": 8, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", \"depth_multiplier\": 1, \"use_bias\": true, \"activation\": \"hard_swish\"", inputs: ["relu6"]),
        layer("Add", "add", inputs: ["relu6", "sep"]),
        layer("Concatenate", "cat", "\"axis\": -1", inputs: ["add", "dw"]),
        layer("AveragePooling2D", "avg", "\"pool_size\": [2, 2], \"strides\": [2, 2], \"padding\": \"same\"", inputs: ["cat"]),
        layer("MaxPooling2D", "max", "\"pool_size\": [2, 2], \"strides\": null, \"padding\": \"valid\"", inputs: ["avg"]),
        layer("Activation", "swish", "\"activation\": \"swish\"", inputs: ["max"]),
        layer("Flatten", "flat", inputs: ["swish"]),
        layer("Dropout", "drop", "\"rate\": 0.5", inputs: ["flat"]),
        layer("Dense", "dense", "\"units\": 5, \"use_bias\": true, \"activation\": \"softmax\"", inputs: ["drop"]),
    ], output: "dense")

    @Test func readsEveryKindWithItsShapes() throws {
        let spec = try Self.spec(Self.everyKind)
        #expect(spec.architectureName == "keras_graph")
        let c = try #require(spec.configuration(as: KerasGraphConfiguration.self))
        #expect(c.inputShape == [9, 8, 3] && c.output == "dense" && c.layers.count == 14)
        var rng = RandomGenerator(seed: 5)
        let model = try #require(spec.build(parameterPaths: [], rng: &rng).as(KerasGraphModel.self))
        // 9×8 → same stride 2: 5×4; depthwise ×2: 8 channels; concat 16; pools 3×2 → 1×1.
        let out = model.outputs(Variable(Tensor.zeros([2, 9, 8, 3])), tape: Tape(recording: false))
        #expect(out["conv"]?.shape == [2, 5, 4, 4] && out["dw"]?.shape == [2, 5, 4, 8] && out["cat"]?.shape == [2, 5, 4, 16])
        #expect(out["avg"]?.shape == [2, 3, 2, 16] && out["max"]?.shape == [2, 1, 1, 16] && out["dense"]?.shape == [2, 5])
        #expect(model.featureCount == 9 * 8 * 3 && model.classCount == 5)
        let names = Set(model.namedParameters.map(\.name))
        #expect(names == ["conv.kernel", "conv.bias", "bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance",
                          "dw.depthwise_kernel", "dw.bias", "sep.depthwise_kernel", "sep.pointwise_kernel", "sep.bias",
                          "dense.weight", "dense.bias"])
        // The native config round-trips.
        let native = try JSONParser.parse([UInt8](try spec.encodedConfiguration())).configValue
        #expect(try ModelSpec.recognising(.native(architecture: "keras_graph", config: native, file: "native")) == spec)
    }

    /// The graph's forward is the tensor core's ops composed by hand (BN as TF's
    /// x·γ/√(σ²+ε) + (β - μ·γ/√(σ²+ε))), and the class logits are the output before softmax.
    @Test func forwardIsTheLayersComposed() throws {
        var rng = RandomGenerator(seed: 11)
        let model = try #require(try Self.spec(Self.everyKind).build(parameterPaths: [], rng: &rng).as(KerasGraphModel.self))
        let p = Dictionary(model.namedParameters.map { ($0.name, $0.variable) }, uniquingKeysWith: { a, _ in a })
        for (name, v) in p { v.value = rng.normal(shape: v.shape, std: name.hasSuffix("variance") ? 0.1 : 0.5) }
        p["bn.moving_variance"]!.value = p["bn.moving_variance"]!.value.applying { abs($0) + 0.5 }
        let x = rng.normal(shape: [2, 9, 8, 3])
        let c = try #require(Self.spec(Self.everyKind).configuration(as: KerasGraphConfiguration.self))
        func g(_ name: String) -> Conv2DGeometry { c.layer(name)!.geometry }
        var h = Tensor.conv2d(x, kernel: p["conv.kernel"]!.value, bias: p["conv.bias"]!.value, geometry: g("conv")).relu()
        let s = p["bn.gamma"]!.value / (p["bn.moving_variance"]!.value + 0.001).applying { $0.squareRoot() }
        h = h * s + (p["bn.beta"]!.value - p["bn.moving_mean"]!.value * s)
        let dw = Tensor.depthwiseConv2d(h, kernel: p["dw.depthwise_kernel"]!.value, bias: p["dw.bias"]!.value, geometry: g("dw"))
        let r6 = dw.applying { min(max($0, 0), 6) }
        var sep = Tensor.depthwiseConv2d(r6, kernel: p["sep.depthwise_kernel"]!.value, geometry: g("sep"))
        sep = Tensor.conv2d(sep, kernel: p["sep.pointwise_kernel"]!.value, bias: p["sep.bias"]!.value, geometry: Conv2DGeometry(kernel: (1, 1)))
        sep = sep.applying { $0 * min(max($0 + 3, 0), 6) / 6 }
        let cat = Tensor.concat([r6 + sep, dw], axis: 3)
        let pooled = cat.avgPool2d(g("avg")).maxPool2d(g("max")).silu()
        let logits = Tensor.linear(pooled.reshaped([2, 16]), weight: p["dense.weight"]!.value, bias: p["dense.bias"]!.value)
        let ours = model.classLogits(Variable(x.reshaped([2, 9 * 8 * 3])), tape: Tape(recording: false)).value
        #expect(isClose(ours, logits, rtol: 1e-4, atol: 1e-5), "excess \(closenessExcess(ours, logits, rtol: 1e-4, atol: 1e-5))")
        let probabilities = model(Variable(x), tape: Tape(recording: false)).value
        #expect(isClose(probabilities, logits.softmax(axis: -1), rtol: 1e-5, atol: 1e-6))
    }

    /// Backward through the whole graph (convolutions, BN, residual add, concat, pools, Dense)
    /// against central finite differences, for the input and every trainable parameter. The
    /// graph's kinks are smoothed here (ReLU → swish, ReLU6 → tanh, hard_swish → sigmoid, max →
    /// average pooling): a step of a kernel moves dozens of outputs, and some always cross a kink
    /// or swap a window's maximum, which put the differences (not the gradients) off by up to 4e-2
    /// when measured. The kinked ops have their own checks (ActivationTests, PoolingTests on
    /// well-separated values).
    @Test func gradientsThroughTheGraph() throws {
        let smooth = Self.everyKind
            .replacingOccurrences(of: "\"activation\": \"relu\"", with: "\"activation\": \"swish\"")
            .replacingOccurrences(of: "\"activation\": \"hard_swish\"", with: "\"activation\": \"sigmoid\"")
            .replacingOccurrences(of: "{\"class_name\": \"ReLU\", \"name\": \"relu6\", \"config\": {\"name\": \"relu6\", \"max_value\": 6.0, \"negative_slope\": 0.0, \"threshold\": 0.0}",
                                  with: "{\"class_name\": \"Activation\", \"name\": \"relu6\", \"config\": {\"name\": \"relu6\", \"activation\": \"tanh\"}")
            .replacingOccurrences(of: "{\"class_name\": \"MaxPooling2D\"", with: "{\"class_name\": \"AveragePooling2D\"")
        let c = try #require(try Self.spec(smooth).configuration(as: KerasGraphConfiguration.self))
        #expect(c.layer("relu6")?.activation == .tanh && c.layer("conv")?.activation == .swish && c.layer("sep")?.activation == .sigmoid)
        #expect(c.layer("max")?.kind == .avgPool2d)
        var rng = RandomGenerator(seed: 12)
        let model = try #require(try Self.spec(smooth).build(parameterPaths: [], rng: &rng).as(KerasGraphModel.self))
        for (name, v) in model.namedParameters where !name.hasPrefix("bn.moving") { v.value = rng.normal(shape: v.shape, std: 0.4) }
        let trainable = model.parameters.filter(\.requiresGrad)
        #expect(trainable.count == 11)   // the moving statistics are stored, not trained
        let x = rng.normal(shape: [2, 9 * 8 * 3])
        let r = checkGradients([x], parameters: trainable, epsilon: 1e-2, tolerance: 2e-2, maxElements: 24) { t, v in
            model.classLogits(v[0], tape: t)
        }
        #expect(r.passed, "\(r)")
    }

    @Test func readsASequentialModel() throws {
        // Keras ≤ 2.1 stores a Sequential's layers as `config` itself; the input shape is on the first layer.
        let json = """
        {"class_name": "Sequential", "config": [
          {"class_name": "Conv2D", "config": {"name": "c", "batch_input_shape": [null, 6, 6, 1], "filters": 2, "kernel_size": [3, 3], "padding": "valid", "activation": "relu"}},
          {"class_name": "GlobalAveragePooling2D", "config": {"name": "g"}},
          {"class_name": "Dense", "config": {"name": "d", "units": 3, "activation": "linear"}}]}
        """
        let c = try #require(try Self.spec(json).configuration(as: KerasGraphConfiguration.self))
        #expect(c.layers.map(\.name) == ["input", "c", "g", "d"] && c.layers.map(\.inputs) == [[], ["input"], ["c"], ["g"]])
        #expect(c.inputShape == [6, 6, 1] && c.output == "d")
    }

    /// (model_config, text the one-line error must hold).
    static let refused: [(String, [String])] = [
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("LSTM", "lstm_1", "\"units\": 4", inputs: ["in"])], output: "lstm_1"),
         ["layer 'lstm_1' has class LSTM", file]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("Conv2D", "c", "\"filters\": 2, \"kernel_size\": [3, 3], \"padding\": \"causal\"", inputs: ["in"])], output: "c"),
         ["layer 'c' (Conv2D)", "padding 'causal'", file]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("MaxPooling2D", "p", "\"pool_size\": [2, 2], \"data_format\": \"channels_first\"", inputs: ["in"])], output: "p"),
         ["layer 'p' (MaxPooling2D)", "channels_first", file]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("ReLU", "leaky", "\"negative_slope\": 0.1", inputs: ["in"])], output: "leaky"),
         ["layer 'leaky' (ReLU)", "negative_slope"]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("Flatten", "f", inputs: ["in"]),
                     layer("Conv2D", "c", "\"filters\": 2, \"kernel_size\": [3, 3]", inputs: ["f"])], output: "c"),
         ["layer 'c' (conv2d)", "not an image"]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, 8, 8, 1]", inputs: []),
                     layer("Conv2D", "c", "\"filters\": 2, \"kernel_size\": [3, 3], \"padding\": \"same\"", inputs: ["in"]),
                     layer("Add", "a", inputs: ["in", "c"])], output: "a"),
         ["layer 'a' (add)", "differ"]),
        (functional([layer("InputLayer", "in", "\"batch_input_shape\": [null, null, null, 1]", inputs: [])], output: "in"),
         ["fixed positive extents"]),
    ]

    @Test(arguments: 0..<refused.count)
    func refusesWithOneLine(_ index: Int) throws {
        let (json, needles) = Self.refused[index]
        do {
            _ = try Self.spec(json)
            Issue.record("case \(index) was read")
        } catch let error as CheckpointError {
            guard case .invalidConfig = error else { Issue.record("case \(index): \(error)"); return }
            let message = error.description
            #expect(!message.contains("\n"), "\(message)")
            for needle in needles { #expect(message.contains(needle), "'\(message)' lacks '\(needle)'") }
        }
    }

    /// Fixtures/checkpoints/corrupt/unsupported-layer.h5 (scripts/fixtures/make_keras_fixtures.py):
    /// a valid file whose model_config has an LSTM; read fine, refused at load in one line, by
    /// `nanoforge inspect` too.
    @Test func unsupportedLayerFileIsRefusedInOneLine() throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/unsupported-layer.h5")
        _ = try CheckpointReader.read(path: path)
        let error = #expect(throws: CheckpointError.self) { try ModelLoader.load(path: path) }
        let message = error?.description ?? ""
        #expect(message == "\(path): config field 'model_config.config.layers[2]': layer 'lstm' has class LSTM, which nanoforge "
                + "does not read (it reads \(KerasGraphSupportedClasses.list))", "\(message)")
        let inspect = try CommandRunner.nanoforge(["inspect", path])
        #expect(inspect.status == 0 && inspect.stdout.contains("architecture: unreadable Keras model_config: \(message)"), "\(inspect.stdout)")
    }
}

/// A Keras 3 CNN of every layer kind, saved as `.keras` and unpacked (config.json +
/// model.weights.h5, positional variables), against Keras's own outputs
/// (scripts/fixtures/make_keras_cnn_goldens.py).
@Suite struct Keras3FolderTests {
    @Test func unpackedKerasArchiveMatchesKeras() throws {
        let folder = RepositoryPaths.fixture("keras-cnn/tiny-keras3")
        let (loaded, store) = try ModelLoader.load(path: folder)
        #expect(store.names.contains("conv2d.vars.0") && store.names.contains("dense.weight"))
        let model = try #require(loaded.as(KerasGraphModel.self))
        #expect(model.configuration.layers.count == 13)
        let golden = try SafetensorsReader.read(path: RepositoryPaths.fixture("keras-cnn/tiny-keras3-golden.safetensors"))
        let x = try golden.floatTensor("x")
        let outputs = model.outputs(Variable(x), tape: Tape(recording: false))
        let probabilities = try #require(outputs["dense"]).value, cat = try #require(outputs["concatenate"]).value
        // Measured: max |Δ probability| 1.2e-7, max |Δ concatenate| 4.8e-7.
        let dProb = maxAbsDifference(probabilities, try golden.floatTensor("probabilities"))
        print("tiny Keras 3 CNN vs Keras: max |Δprob| \(dProb), max |Δconcatenate| \(maxAbsDifference(cat, try golden.floatTensor("concatenate")))")
        #expect(dProb <= 1e-5)
        #expect(isClose(cat, try golden.floatTensor("concatenate"), rtol: 1e-4, atol: 1e-5))
    }
}

extension Keras3FolderTests {
    /// The `.keras` archive itself (as Keras wrote it) reads as its two members do, and a damaged
    /// archive is refused with a typed error naming it.
    @Test func kerasArchiveReadsAsItsMembers() throws {
        let archive = RepositoryPaths.fixture("keras-cnn/tiny.keras")
        let model = try ModelLoader.load(path: archive, as: KerasGraphModel.self)
        let golden = try SafetensorsReader.read(path: RepositoryPaths.fixture("keras-cnn/tiny-keras3-golden.safetensors"))
        let probabilities = model(Variable(try golden.floatTensor("x")), tape: Tape(recording: false)).value
        #expect(maxAbsDifference(probabilities, try golden.floatTensor("probabilities")) <= 1e-5)
        let folder = try ModelLoader.load(path: RepositoryPaths.fixture("keras-cnn/tiny-keras3"), as: KerasGraphModel.self)
        #expect(folder.namedParameters.map(\.name) == model.namedParameters.map(\.name))
        #expect(zip(folder.parameters, model.parameters).allSatisfy { $0.value == $1.value })

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
        let at = bytes.count / 2
        bytes[at] ^= 0xFF   // inside model.weights.h5
        try withTemporaryDirectory { dir in
            let damaged = dir + "/damaged.keras"
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            let error = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path: damaged) }
            #expect(error?.description.contains("\(damaged)") == true && error?.description.contains("CRC-32") == true, "\(String(describing: error))")
            try Data(bytes.prefix(bytes.count - 30)).write(to: URL(fileURLWithPath: damaged))
            #expect(throws: CheckpointError.self) { try CheckpointReader.read(path: damaged) }
        }
    }
}

/// The classes the refusal lists, as `KerasModelConfig.supportedClasses` (internal) spells them.
enum KerasGraphSupportedClasses {
    static let list = "InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization, Activation, ReLU, MaxPooling2D, "
        + "AveragePooling2D, GlobalAveragePooling2D, Add, Concatenate, Flatten, Dense, Dropout"
}
