import NanoTensor

/// Layer normalisation over the last axis with learned scale and shift.
public final class LayerNorm: ParameterContainer {
    public let weight: Variable
    public let bias: Variable
    public let epsilon: Float

    public init(weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) {
        precondition(weight.rank == 1 && bias.shape == weight.shape, "LayerNorm: weight \(weight.shape) and bias \(bias.shape) must be equal 1-D")
        self.weight = Variable(weight, requiresGrad: true)
        self.bias = Variable(bias, requiresGrad: true)
        self.epsilon = epsilon
    }

    public convenience init(_ dimension: Int, epsilon: Float = 1e-5) {
        self.init(weight: .ones([dimension]), bias: .zeros([dimension]), epsilon: epsilon)
    }

    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        tape.layerNorm(x, gamma: weight, beta: bias, epsilon: epsilon)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "weight"), weight)
        visit(join(prefix, "bias"), bias)
    }
}

/// Root-mean-square normalisation over the last axis (Llama-style), learned scale only.
public final class RMSNorm: ParameterContainer {
    public let weight: Variable
    public let epsilon: Float

    public init(weight: Tensor, epsilon: Float = 1e-6) {
        precondition(weight.rank == 1, "RMSNorm: weight must be 1-D, got \(weight.shape)")
        self.weight = Variable(weight, requiresGrad: true)
        self.epsilon = epsilon
    }

    public convenience init(_ dimension: Int, epsilon: Float = 1e-6) {
        self.init(weight: .ones([dimension]), epsilon: epsilon)
    }

    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        tape.rmsNorm(x, gamma: weight, epsilon: epsilon)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "weight"), weight)
    }
}

/// The normalisation a block uses, chosen by configuration.
public enum NormKind: String, Codable, Sendable { case layerNorm = "layer_norm", rmsNorm = "rms_norm" }

/// A LayerNorm or an RMSNorm behind one call site.
public enum Norm {
    case layer(LayerNorm)
    case rms(RMSNorm)

    public init(_ kind: NormKind, dimension: Int, epsilon: Float? = nil) {
        switch kind {
        case .layerNorm: self = .layer(LayerNorm(dimension, epsilon: epsilon ?? 1e-5))
        case .rmsNorm: self = .rms(RMSNorm(dimension, epsilon: epsilon ?? 1e-6))
        }
    }

    public var container: ParameterContainer {
        switch self { case .layer(let n): return n; case .rms(let n): return n }
    }

    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        switch self { case .layer(let n): return n(x, tape: tape); case .rms(let n): return n(x, tape: tape) }
    }
}
