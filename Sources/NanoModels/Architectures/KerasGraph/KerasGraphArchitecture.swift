import NanoTensor

/// Keras models as graphs of layers (convolutional image classifiers such as fer's mini-Xception):
/// read from a Keras 2 `.h5` file's `model_config` attribute, a Keras 3 `.keras` archive unpacked
/// into a folder (`config.json` + `model.weights.h5`), or nanoforge's native `keras_graph`
/// config; class logits of images given as feature rows (NHWC, flattened).
///
/// The model_config reaches the families as a `huggingFace`-convention source (a JSON config's
/// values); this family recognises it by Keras's own keys (`class_name` Functional / Model /
/// Sequential with `config.layers`). Weights keep Keras 2's names (`<layer>.kernel`, …), so the
/// stored-name map is the identity for Keras 2 files.
public enum KerasGraphArchitecture: ModelArchitecture {
    public typealias Configuration = KerasGraphConfiguration
    public typealias Model = KerasGraphModel

    public static let name = "keras_graph"
    public static let tasks: [ModelTask] = [.classLogits]
    public static let inputAdapter = InputAdapterKind.features

    public static func recognises(_ source: ConfigSource) -> Bool {
        switch source.convention {
        case .native: return source.names.contains(name)
        case .huggingFace: return KerasModelConfig.isKerasModel(source.values)
        default: return false
        }
    }

    public static func configuration(from source: ConfigSource) throws -> Configuration {
        guard source.convention == .native else { return try KerasModelConfig.read(source.values, file: source.file) }
        let c = try nativeConfiguration(source)
        _ = try KerasGraphShapes.infer(c, file: source.file)
        return c
    }

    /// The configuration with each weighted layer's width as the model has it now (a pass may
    /// have changed them).
    public static func configuration(of model: KerasGraphModel) -> Configuration {
        var c = model.configuration
        let modules = Dictionary(model.modules, uniquingKeysWith: { a, _ in a })
        for i in c.layers.indices {
            switch modules[c.layers[i].name] {
            case let conv as Conv2D: c.layers[i].filters = conv.outChannels
            case let separable as DepthwiseConv2D where c.layers[i].kind == .separableConv2d: c.layers[i].filters = separable.outChannels
            case let dense as Linear: c.layers[i].filters = dense.outFeatures
            default: break
            }
        }
        return c
    }

    /// Keras 2 files name their variables (`conv2d_1.kernel`): the identity. Keras 3's
    /// `model.weights.h5` numbers them (`conv2d.vars.0`, `vars.1`, …, read by `Keras3Layout`), in
    /// the order each layer creates them; this map names them from the layer's kind.
    public static func tensorNames(_ c: Configuration, convention: ConfigSource.Convention, storedNames: Set<String>) -> TensorNameMap {
        guard storedNames.contains(where: { $0.contains(".vars.") }) else { return .identity }
        var entries: [TensorNameMap.Entry] = []
        for layer in c.layers {
            let bias = (layer.useBias ?? true) ? ["bias"] : []
            let names: [String]
            switch layer.kind {
            case .conv2d: names = ["kernel"] + bias
            case .depthwiseConv2d: names = ["depthwise_kernel"] + bias
            case .separableConv2d: names = ["depthwise_kernel", "pointwise_kernel"] + bias
            case .batchNormalization:
                names = ((layer.scale ?? true) ? ["gamma"] : []) + ((layer.center ?? true) ? ["beta"] : []) + ["moving_mean", "moving_variance"]
            case .dense:
                // Keras3Layout already names a Dense kernel with its bias; a bias-free one stays positional.
                entries.append(.init(stored: "\(layer.name).vars.0", parameter: "\(layer.name).weight", transform: .transpose))
                continue
            default: continue
            }
            for (i, name) in names.enumerated() {
                entries.append(.init(stored: "\(layer.name).vars.\(i)", parameter: "\(layer.name).\(name)"))
            }
        }
        return TensorNameMap(entries: entries)
    }

    public static func build(_ c: Configuration, parameterPaths: Set<String>, rng: inout RandomGenerator) -> KerasGraphModel {
        KerasGraphModel(c, rng: &rng)
    }

    /// `keras_graph 'model_1': input 64×64×1 → 7 classes, 46 layers (Conv2D 7, SeparableConv2D 8, …)`.
    public static func summary(_ c: Configuration) -> String {
        var counts: [(KerasLayer.Kind, Int)] = []
        for kind in KerasLayer.Kind.allCases where kind != .input {
            let n = c.layers.filter { $0.kind == kind }.count
            if n > 0 { counts.append((kind, n)) }
        }
        let outputs = ((try? KerasGraphShapes.infer(c, file: c.name))?[c.output] ?? []).map(String.init).joined(separator: "×")
        return "keras_graph '\(c.name)': input \(c.inputShape.map(String.init).joined(separator: "×")) → \(outputs), "
            + "\(c.layers.count) layers (" + counts.map { "\($0.0.kerasClass) \($0.1)" }.joined(separator: ", ") + ")"
    }
}

extension KerasLayer.Kind {
    /// The Keras class this kind is read from (ReLU layers read as `Activation`).
    public var kerasClass: String {
        switch self {
        case .input: return "InputLayer"
        case .conv2d: return "Conv2D"
        case .depthwiseConv2d: return "DepthwiseConv2D"
        case .separableConv2d: return "SeparableConv2D"
        case .batchNormalization: return "BatchNormalization"
        case .activation: return "Activation"
        case .maxPool2d: return "MaxPooling2D"
        case .avgPool2d: return "AveragePooling2D"
        case .globalAvgPool2d: return "GlobalAveragePooling2D"
        case .add: return "Add"
        case .concatenate: return "Concatenate"
        case .flatten: return "Flatten"
        case .dense: return "Dense"
        case .dropout: return "Dropout"
        }
    }
}

extension ModelSpec {
    /// A Keras graph's spec.
    public static func kerasGraph(_ c: KerasGraphConfiguration) -> ModelSpec { ModelSpec(KerasGraphArchitecture.self, c) }
}

extension LoadedModel {
    /// A built Keras graph.
    public static func kerasGraph(_ model: KerasGraphModel) -> LoadedModel { LoadedModel(KerasGraphArchitecture.self, model) }
}
