import NanoTensor

/// A Keras model as a graph of layers, one input and one output: what nanoforge reads from a
/// Keras 2 `model_config` (Functional / Model or Sequential) and keeps as its native config.
/// Layers are in topological order (the order Keras saves them), the input layer first.
public struct KerasGraphConfiguration: Codable, Equatable, Sendable {
    /// The model's Keras name.
    public var name: String
    /// One example's input shape, without the batch axis ([H, W, C] for an image model).
    public var inputShape: [Int]
    public var layers: [KerasLayer]
    /// The layer whose output is the model's output.
    public var output: String

    public init(name: String, inputShape: [Int], layers: [KerasLayer], output: String) {
        self.name = name; self.inputShape = inputShape; self.layers = layers; self.output = output
    }

    /// The layer named `name`.
    public func layer(_ name: String) -> KerasLayer? { layers.first { $0.name == name } }
}

/// The Keras activations nanoforge runs (the `activation` of a layer or an `Activation` / `ReLU` layer).
public enum KerasActivation: String, Codable, Sendable, CaseIterable {
    case linear, relu, relu6, sigmoid, softmax, swish, tanh
    case hardSwish = "hard_swish"

    /// Keras's name (or an alias Keras accepts) → the activation.
    public init?(kerasName: String) {
        switch kerasName {
        case "silu": self = .swish
        case "hard_silu": self = .hardSwish
        default: self.init(rawValue: kerasName)
        }
    }

    /// Applies the activation; softmax over the last axis.
    public func apply(_ x: Variable, tape: Tape) -> Variable {
        switch self {
        case .linear: return x
        case .relu: return tape.relu(x)
        case .relu6: return Self.relu6(x, tape: tape)
        case .sigmoid: return tape.sigmoid(x)
        case .softmax: return tape.softmax(x, axis: -1)
        case .swish: return tape.silu(x)
        case .tanh: return tape.tanh(x)
        case .hardSwish:
            // x · relu6(x + 3) / 6 (Keras's hard_swish / hard_silu).
            return tape.mul(x, tape.scale(Self.relu6(tape.addScalar(x, 3), tape: tape), by: 1.0 / 6))
        }
    }

    /// min(max(x, 0), 6) = relu(x) - relu(x - 6), from the differentiable primitive relu.
    static func relu6(_ x: Variable, tape: Tape) -> Variable {
        tape.sub(tape.relu(x), tape.relu(tape.addScalar(x, -6)))
    }
}

/// One layer of a `KerasGraphConfiguration`: its Keras name, what it does, the layers it reads
/// and the hyper-parameters of its kind (nil where the kind has none).
public struct KerasLayer: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case input
        case conv2d
        case depthwiseConv2d = "depthwise_conv2d"
        case separableConv2d = "separable_conv2d"
        case batchNormalization = "batch_normalization"
        case activation
        case maxPool2d = "max_pool2d"
        case avgPool2d = "avg_pool2d"
        case globalAvgPool2d = "global_avg_pool2d"
        case add
        case concatenate
        case flatten
        case dense
        case dropout
    }

    public var name: String
    public var kind: Kind
    /// The layers whose outputs this one reads, in order (empty for the input).
    public var inputs: [String]
    /// Convolution window or pool size, [h, w].
    public var kernel: [Int]?
    /// [h, w].
    public var strides: [Int]?
    /// [h, w] (convolutions).
    public var dilation: [Int]?
    public var padding: Padding2D?
    /// Output channels of a Conv2D / SeparableConv2D, units of a Dense.
    public var filters: Int?
    /// Depthwise and separable convolutions.
    public var depthMultiplier: Int?
    public var useBias: Bool?
    /// The activation of an `Activation` layer, or one a Conv2D / Dense / … applies after itself.
    public var activation: KerasActivation?
    /// Batch normalization.
    public var epsilon: Float?
    public var center: Bool?
    public var scale: Bool?
    /// Concatenate's axis, counting the batch axis as Keras does (-1: channels).
    public var axis: Int?

    public init(name: String, kind: Kind, inputs: [String]) {
        self.name = name; self.kind = kind; self.inputs = inputs
    }

    /// The window geometry of a convolution or pooling layer.
    public var geometry: Conv2DGeometry {
        let k = kernel ?? [1, 1], s = strides ?? k, d = dilation ?? [1, 1]
        return Conv2DGeometry(kernel: (k[0], k[1]), strides: (s[0], s[1]), dilation: (d[0], d[1]), padding: padding ?? .valid)
    }
}
