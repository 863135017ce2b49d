import NanoTensor

/// One Keras layer's config → a `KerasLayer`, by its class. Options nanoforge does not run
/// (channels-first data, causal padding, a leaky or thresholded ReLU, …) are refused with the
/// layer, its class and the file, as an unknown class is.
enum KerasLayerReader {
    /// The layer (Dropout is kept, as the identity at inference, so the graph keeps Keras's names).
    static func read(_ className: String, name: String, config: ConfigValue, inputs: [String], field: String, file: String) throws -> KerasLayer {
        func fail(_ what: String) -> ConfigError {
            ConfigError(file: file, field: field, reason: "layer '\(name)' (\(className)): \(what)")
        }
        func ints(_ key: String, count: Int = 2) throws -> [Int]? {
            guard let value = config[key], value != .null else { return nil }
            if let n = value.int { return [Int](repeating: n, count: count) }
            guard let list = value.array?.map(\.int), list.count == count, list.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw fail("\(key) \(value.serialized) should be \(count) positive integers")
            }
            return list.map { $0! }
        }
        func padding() throws -> Padding2D {
            let text = config["padding"]?.string ?? "valid"
            guard let p = Padding2D(rawValue: text.lowercased()) else { throw fail("padding '\(text)' (nanoforge runs 'same' and 'valid')") }
            return p
        }
        func activation(_ key: String = "activation") throws -> KerasActivation? {
            guard let value = config[key], value != .null else { return nil }
            guard let text = value.string else { throw fail("\(key) \(value.serialized) is not a named activation") }
            guard let a = KerasActivation(kerasName: text) else {
                throw fail("activation '\(text)' (nanoforge runs \(KerasActivation.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return a == .linear && key == "activation" && className != "Activation" ? nil : a
        }
        func channelsLast() throws {
            if let format = config["data_format"]?.string, format != "channels_last" {
                throw fail("data_format '\(format)' (nanoforge reads channels_last)")
            }
        }
        func positive(_ key: String) throws -> Int {
            guard let n = config[key]?.int, n > 0 else { throw fail("\(key) should be a positive integer, found \(config[key]?.serialized ?? "none")") }
            return n
        }

        var layer = KerasLayer(name: name, kind: .input, inputs: inputs)
        switch className {
        case "InputLayer":
            layer.inputs = []
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            try channelsLast()
            layer.kind = className == "Conv2D" ? .conv2d : className == "DepthwiseConv2D" ? .depthwiseConv2d : .separableConv2d
            layer.kernel = try ints("kernel_size")
            layer.strides = try ints("strides") ?? [1, 1]
            layer.dilation = try ints("dilation_rate") ?? [1, 1]
            layer.padding = try padding()
            layer.useBias = config["use_bias"].map { $0 == .bool(true) } ?? true
            layer.activation = try activation()
            if className != "Conv2D" { layer.depthMultiplier = config["depth_multiplier"]?.int ?? 1 }
            if className != "DepthwiseConv2D" { layer.filters = try positive("filters") }
            if (layer.strides ?? [1, 1]) != [1, 1] && (layer.dilation ?? [1, 1]) != [1, 1] {
                throw fail("strides and dilation_rate both above 1 (Keras refuses this too)")
            }
            if let groups = config["groups"]?.int, groups != 1 { throw fail("groups \(groups) (nanoforge runs groups 1)") }
        case "BatchNormalization":
            layer.kind = .batchNormalization
            let axis = config["axis"]?.int ?? config["axis"]?.array?.first?.int ?? -1
            // The channel axis: -1, or its positive index (3 for NHWC, 1 for a Dense output); checked with the shapes.
            layer.axis = axis
            layer.epsilon = Float(config["epsilon"]?.number ?? 1e-3)
            layer.center = config["center"].map { $0 == .bool(true) } ?? true
            layer.scale = config["scale"].map { $0 == .bool(true) } ?? true
        case "Activation":
            layer.kind = .activation
            layer.activation = try activation() ?? .linear
        case "ReLU":
            layer.kind = .activation
            let maxValue = config["max_value"]?.number
            if let slope = config["negative_slope"]?.number, slope != 0 { throw fail("negative_slope \(slope) (nanoforge runs ReLU and ReLU6)") }
            if let threshold = config["threshold"]?.number, threshold != 0 { throw fail("threshold \(threshold) (nanoforge runs ReLU and ReLU6)") }
            switch maxValue {
            case nil: layer.activation = .relu
            case 6?: layer.activation = .relu6
            case let other?: throw fail("max_value \(other) (nanoforge runs ReLU and ReLU6)")
            }
        case "MaxPooling2D", "AveragePooling2D":
            try channelsLast()
            layer.kind = className == "MaxPooling2D" ? .maxPool2d : .avgPool2d
            layer.kernel = try ints("pool_size") ?? [2, 2]
            layer.strides = try ints("strides") ?? layer.kernel
            layer.padding = try padding()
        case "GlobalAveragePooling2D":
            try channelsLast()
            if config["keepdims"] == .bool(true) { throw fail("keepdims true (nanoforge reads the [N, C] form)") }
            layer.kind = .globalAvgPool2d
        case "Add":
            layer.kind = .add
        case "Concatenate":
            layer.kind = .concatenate
            layer.axis = config["axis"]?.int ?? -1
        case "Flatten":
            try channelsLast()
            layer.kind = .flatten
        case "Dense":
            layer.kind = .dense
            layer.filters = try positive("units")
            layer.useBias = config["use_bias"].map { $0 == .bool(true) } ?? true
            layer.activation = try activation()
        case "Dropout":
            layer.kind = .dropout
        default:
            throw ConfigError(file: file, field: field,
                              reason: "layer '\(name)' has class \(className), which nanoforge does not read (it reads \(KerasModelConfig.supportedClasses.joined(separator: ", ")))")
        }
        return layer
    }
}
