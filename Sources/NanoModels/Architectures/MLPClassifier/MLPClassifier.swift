import NanoTensor

/// A multi-layer perceptron classifier: Linear → activation, repeated, then a Linear to class logits.
public final class MLPClassifier: ParameterContainer {
    public struct Configuration: Codable, Equatable, Sendable {
        public var inputs: Int
        public var hidden: [Int]
        public var classes: Int
        public var activation: Activation

        public init(inputs: Int, hidden: [Int], classes: Int, activation: Activation = .relu) {
            self.inputs = inputs; self.hidden = hidden; self.classes = classes; self.activation = activation
        }
    }

    public let configuration: Configuration
    /// `layers.0` … `layers.N`; the last one produces logits.
    public let layers: [Linear]

    public init(configuration: Configuration, layers: [Linear]) {
        precondition(!layers.isEmpty, "MLP: needs at least one layer")
        self.configuration = configuration
        self.layers = layers
    }

    public convenience init(_ c: Configuration, rng: inout RandomGenerator) {
        let widths = [c.inputs] + c.hidden + [c.classes]
        var layers: [Linear] = []
        for i in 0..<(widths.count - 1) { layers.append(Linear(widths[i], widths[i + 1], rng: &rng)) }
        self.init(configuration: c, layers: layers)
    }

    /// x: [N, inputs] → logits [N, classes]
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h, tape: tape)
            if i < layers.count - 1 { h = configuration.activation.apply(h, tape: tape) }
        }
        return h
    }

    public var children: [(name: String, module: ParameterContainer)] {
        layers.enumerated().map { ("layers.\($0.offset)", $0.element as ParameterContainer) }
    }
}
