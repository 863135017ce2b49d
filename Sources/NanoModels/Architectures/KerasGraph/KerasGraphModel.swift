import NanoTensor

/// A Keras functional graph run on nanoforge's tensor core: the layers of a
/// `KerasGraphConfiguration` in order, each reading its inputs' outputs. Layers with weights are
/// the children, under their Keras names (`conv2d_1.kernel`, `batch_normalization_1.gamma`,
/// `dense_1.weight` as [out, in]), so a Keras 2 `.h5` loads with the identity name map.
public final class KerasGraphModel: ParameterContainer {
    public private(set) var configuration: KerasGraphConfiguration
    /// The layers with weights, by Keras name, in graph order.
    public private(set) var modules: [(name: String, module: ParameterContainer)]
    /// Applied to each layer's output (after its own activation), by layer name: QAT's fake
    /// quantization of the tensors the integer model holds in int8. nil: none.
    public var outputTransform: ((_ layer: String, _ value: Variable, _ tape: Tape) -> Variable)?

    public init(configuration: KerasGraphConfiguration, modules: [(name: String, module: ParameterContainer)]) {
        self.configuration = configuration
        self.modules = modules
    }

    /// Fresh weights for `c` (Keras's default initializers); `c` must have passed `KerasGraphShapes.infer`.
    public convenience init(_ c: KerasGraphConfiguration, rng: inout RandomGenerator) {
        guard let shapes = try? KerasGraphShapes.infer(c, file: c.name) else {
            preconditionFailure("KerasGraphModel: configuration '\(c.name)' was not validated")
        }
        var modules: [(String, ParameterContainer)] = []
        for layer in c.layers {
            let inChannels = layer.inputs.first.flatMap { shapes[$0]?.last } ?? 0
            let bias = layer.useBias ?? true
            switch layer.kind {
            case .conv2d:
                modules.append((layer.name, Conv2D(inChannels: inChannels, outChannels: layer.filters ?? 0,
                                                   geometry: layer.geometry, bias: bias, rng: &rng)))
            case .depthwiseConv2d, .separableConv2d:
                modules.append((layer.name, DepthwiseConv2D(channels: inChannels, multiplier: layer.depthMultiplier ?? 1,
                                                            pointwise: layer.kind == .separableConv2d ? layer.filters : nil,
                                                            geometry: layer.geometry, bias: bias, rng: &rng)))
            case .batchNormalization:
                modules.append((layer.name, BatchNormalization(channels: inChannels, epsilon: layer.epsilon ?? 1e-3,
                                                               center: layer.center ?? true, scale: layer.scale ?? true)))
            case .dense:
                let units = layer.filters ?? 0
                let bound = (6 / Float(Swift.max(1, inChannels + units))).squareRoot()
                modules.append((layer.name, Linear(weight: rng.uniform(shape: [units, inChannels], low: -bound, high: bound),
                                                   bias: bias ? .zeros([units]) : nil)))
            case .input, .activation, .maxPool2d, .avgPool2d, .globalAvgPool2d, .add, .concatenate, .flatten, .dropout:
                break
            }
        }
        self.init(configuration: c, modules: modules)
    }

    public var children: [(name: String, module: ParameterContainer)] { modules }

    /// Records each weighted layer's width as its module has it now (after channel pruning).
    public func recordLayerWidths() { configuration = KerasGraphArchitecture.configuration(of: self) }

    public func replaceChild(_ name: String, with module: ParameterContainer) -> Bool {
        guard let i = modules.firstIndex(where: { $0.name == name }) else { return false }
        modules[i].module = module
        return true
    }

    /// x: [N] + inputShape → the output layer's output, [N] + its shape.
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        outputs(x, tape: tape)[configuration.output]!
    }

    /// Every layer's output for input x: [N] + inputShape. With `logits`, the output layer's
    /// softmax (an `Activation` layer or a layer's own `activation`) is left out, so a
    /// classifier's output is its logits.
    public func outputs(_ x: Variable, tape: Tape, logits: Bool = false) -> [String: Variable] {
        precondition(Array(x.shape.dropFirst()) == configuration.inputShape,
                     "KerasGraphModel: input \(x.shape) where the model takes [N] + \(configuration.inputShape)")
        var values: [String: Variable] = [:]
        let modules = Dictionary(self.modules, uniquingKeysWith: { a, _ in a })
        for layer in configuration.layers {
            let inputs = layer.inputs.map { values[$0]! }
            var activation = layer.activation
            if logits && layer.name == configuration.output && activation == .softmax { activation = nil }
            var y: Variable
            // The layer's module as the kind needs it (a pass that swaps one keeps its type).
            func module<M>(_: M.Type) -> M {
                guard let m = modules[layer.name] as? M else {
                    preconditionFailure("KerasGraphModel: layer '\(layer.name)' (\(layer.kind.rawValue)) holds \(String(describing: modules[layer.name])), not a \(M.self)")
                }
                return m
            }
            switch layer.kind {
            case .input: y = x
            case .conv2d: y = module(Conv2D.self)(inputs[0], tape: tape)
            case .depthwiseConv2d, .separableConv2d: y = module(DepthwiseConv2D.self)(inputs[0], tape: tape)
            case .batchNormalization: y = module(BatchNormalization.self)(inputs[0], tape: tape)
            case .dense: y = module(Linear.self)(inputs[0], tape: tape)
            case .activation, .dropout: y = inputs[0]
            case .maxPool2d: y = tape.maxPool2d(inputs[0], geometry: layer.geometry)
            case .avgPool2d: y = tape.avgPool2d(inputs[0], geometry: layer.geometry)
            case .globalAvgPool2d: y = tape.globalAvgPool2d(inputs[0])
            case .flatten: y = tape.reshape(inputs[0], [inputs[0].shape[0], -1])
            case .add: y = inputs.dropFirst().reduce(inputs[0]) { tape.add($0, $1) }
            case .concatenate:
                let axis = (layer.axis ?? -1) < 0 ? (layer.axis ?? -1) + inputs[0].rank : (layer.axis ?? -1)
                y = tape.concat(inputs, axis: axis)
            }
            if let activation { y = activation.apply(y, tape: tape) }
            if let outputTransform { y = outputTransform(layer.name, y, tape) }
            values[layer.name] = y
        }
        return values
    }
}

extension KerasGraphModel: ClassLogitsModel {
    /// The input's elements per example (64·64·1 for fer's 64×64 grey faces), NHWC order.
    public var featureCount: Int { configuration.inputShape.reduce(1, *) }
    public var classCount: Int {
        let shapes = try? KerasGraphShapes.infer(configuration, file: configuration.name)
        return shapes?[configuration.output]?.reduce(1, *) ?? 0
    }

    /// x: [N, featureCount] (each row an NHWC image) → logits [N, classCount]: the output before a
    /// final softmax.
    public func classLogits(_ x: Variable, tape: Tape) -> Variable {
        let n = x.shape[0]
        let image = tape.reshape(x, [n] + configuration.inputShape)
        let out = outputs(image, tape: tape, logits: true)[configuration.output]!
        return tape.reshape(out, [n, -1])
    }
}
