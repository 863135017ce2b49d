import NanoTensor

/// Reads a Keras 2 `model_config` (the JSON attribute of a `.h5` model file), or Keras 3's
/// `config.json` (inside a `.keras` archive), into a `KerasGraphConfiguration`: a Functional /
/// Model graph (`config.layers` with `inbound_nodes` in either version's form,
/// `config.input_layers`, `config.output_layers`) or a Sequential stack (`config.layers`, or
/// `config` itself being the list in Keras ≤ 2.1). Only channels-last 2-D image layers and the
/// dense layers after them are read; anything else is a `ConfigError` naming the layer, its class
/// and the file.
enum KerasModelConfig {
    /// The Keras layer classes nanoforge reads.
    static let supportedClasses = [
        "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "Activation", "ReLU",
        "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Add", "Concatenate", "Flatten", "Dense", "Dropout",
    ]

    /// Whether `values` looks like a Keras model_config.
    static func isKerasModel(_ values: ConfigValue) -> Bool {
        guard let className = values["class_name"]?.string, ["Functional", "Model", "Sequential"].contains(className) else { return false }
        return values["config"]?["layers"]?.array != nil || values["config"]?.array != nil
    }

    static func read(_ values: ConfigValue, file: String) throws -> KerasGraphConfiguration {
        let className = values["class_name"]?.string ?? ""
        let body = values["config"]
        guard let layerValues = body?["layers"]?.array ?? body?.array else {
            throw ConfigError(file: file, field: "model_config.config.layers", reason: "missing: not a Keras model config")
        }
        let sequential = className == "Sequential"
        var layers: [KerasLayer] = []
        var inputShape: [Int]? = nil
        for (index, value) in layerValues.enumerated() {
            let field = "model_config.config.layers[\(index)]"
            guard let layerClass = value["class_name"]?.string, let config = value["config"] else {
                throw ConfigError(file: file, field: field, reason: "a layer needs class_name and config")
            }
            guard let name = config["name"]?.string ?? value["name"]?.string else {
                throw ConfigError(file: file, field: field, reason: "layer of class \(layerClass) has no name")
            }
            var inputs: [String]
            if sequential {
                inputs = layers.last.map { [$0.name] } ?? []
            } else {
                inputs = try inbound(value["inbound_nodes"], layer: name, field: field, file: file)
            }
            // A Sequential model states its input on the first layer (`batch_input_shape`).
            if let shape = config["batch_input_shape"]?.array ?? config["batch_shape"]?.array, inputShape == nil || layerClass == "InputLayer" {
                let dims = shape.dropFirst().map(\.int)
                guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    throw ConfigError(file: file, field: "\(field).config.batch_input_shape",
                                      reason: "layer '\(name)': input shape \(ConfigValue.array(shape).serialized) needs fixed positive extents")
                }
                inputShape = dims.map { $0! }
                if sequential && layerClass != "InputLayer" {
                    layers.append(KerasLayer(name: "input", kind: .input, inputs: []))
                    inputs = ["input"]
                }
            }
            layers.append(try KerasLayerReader.read(layerClass, name: name, config: config, inputs: inputs, field: field, file: file))
        }
        guard let inputShape else {
            throw ConfigError(file: file, field: "model_config.config.layers", reason: "no layer states the input shape (batch_input_shape)")
        }
        let inputLayers = layers.filter { $0.kind == .input }
        guard inputLayers.count == 1 else {
            throw ConfigError(file: file, field: "model_config.config.input_layers",
                              reason: "\(inputLayers.count) inputs; nanoforge reads Keras models with one input")
        }
        var output = layers.last?.name ?? ""
        if !sequential {
            let outputs = endpoints(body?["output_layers"])
            guard outputs.count == 1, let first = outputs.first else {
                throw ConfigError(file: file, field: "model_config.config.output_layers",
                                  reason: "\(outputs.count) outputs; nanoforge reads Keras models with one output")
            }
            output = first
        }
        let c = KerasGraphConfiguration(name: body?["name"]?.string ?? values["name"]?.string ?? "model",
                                        inputShape: inputShape, layers: layers, output: output)
        _ = try KerasGraphShapes.infer(c, file: file)
        return c
    }

    /// The layers a Functional layer reads: `inbound_nodes` [[[name, node, tensor, kwargs], …]].
    /// A layer called more than once (a shared layer) has several nodes; nanoforge reads one.
    static func inbound(_ nodes: ConfigValue?, layer: String, field: String, file: String) throws -> [String] {
        let list = nodes?.array ?? []
        guard list.count <= 1 else {
            throw ConfigError(file: file, field: "\(field).inbound_nodes",
                              reason: "layer '\(layer)' is called \(list.count) times (a shared layer); nanoforge reads layers called once")
        }
        guard let node = list.first else { return [] }
        // Keras 3: {"args": [tensor] or [[tensor, …]], "kwargs": {…}}, each tensor
        // {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, index]}}.
        if let args = node["args"]?.array {
            let tensors = args.count == 1 ? (args[0].array ?? [args[0]]) : args
            return try tensors.map { tensor in
                guard let name = tensor["config"]?["keras_history"]?.array?.first?.string else {
                    throw ConfigError(file: file, field: "\(field).inbound_nodes",
                                      reason: "layer '\(layer)': argument \(tensor.serialized) is not a Keras tensor with a keras_history")
                }
                return name
            }
        }
        // Keras 2: [[name, node, tensor, kwargs], …].
        guard let entries = node.array else {
            throw ConfigError(file: file, field: "\(field).inbound_nodes", reason: "layer '\(layer)': node \(node.serialized) is neither Keras 2's nor Keras 3's form")
        }
        return try entries.map { entry in
            guard let name = entry.array?.first?.string else {
                throw ConfigError(file: file, field: "\(field).inbound_nodes",
                                  reason: "layer '\(layer)': inbound entry \(entry.serialized) is not [name, node, tensor, kwargs]")
            }
            return name
        }
    }

    /// The layer names of `input_layers` / `output_layers`: [[name, 0, 0], …] (Keras 2, and
    /// Keras 3 with several), or a single [name, 0, 0] (Keras 3 with one).
    static func endpoints(_ value: ConfigValue?) -> [String] {
        guard let list = value?.array else { return [] }
        if let single = list.first?.string { return [single] }
        return list.compactMap { $0.array?.first?.string }
    }
}
