import NanoTensor

/// The activation between a feed-forward block's projections.
public enum Activation: String, Codable, Sendable {
    case relu, gelu, geluTanh = "gelu_tanh", silu, tanh

    public func apply(_ x: Variable, tape: Tape) -> Variable {
        switch self {
        case .relu: return tape.relu(x)
        case .gelu: return tape.gelu(x, approximation: .erf)
        case .geluTanh: return tape.gelu(x, approximation: .tanh)
        case .silu: return tape.silu(x)
        case .tanh: return tape.tanh(x)
        }
    }
}

/// Position-wise feed-forward network: either `down(act(up(x)))` (GPT/BERT MLP) or
/// SwiGLU `down(silu(gate(x)) ⊙ up(x))` (Llama).
public final class FeedForward: ParameterContainer {
    public enum Kind: String, Codable, Sendable { case mlp, swiglu }

    public private(set) var up: Linear
    public private(set) var gate: Linear?
    public private(set) var down: Linear
    public let activation: Activation

    public init(up: Linear, gate: Linear?, down: Linear, activation: Activation) {
        precondition(up.outFeatures == down.inFeatures, "feed-forward: up \(up.weight.shape) and down \(down.weight.shape) disagree")
        self.up = up; self.gate = gate; self.down = down; self.activation = activation
    }

    public convenience init(kind: Kind, width: Int, hidden: Int, activation: Activation = .gelu, bias: Bool = true,
                            std: Float = 0.02, outputStd: Float? = nil, rng: inout RandomGenerator) {
        let gate = kind == .swiglu ? Linear(width, hidden, bias: bias, std: std, rng: &rng) : nil
        self.init(up: Linear(width, hidden, bias: bias, std: std, rng: &rng), gate: gate,
                  down: Linear(hidden, width, bias: bias, std: outputStd ?? std, rng: &rng),
                  activation: kind == .swiglu ? .silu : activation)
    }

    public var hiddenWidth: Int { up.outFeatures }

    /// Swaps in new projections, as structured pruning does when it removes intermediate neurons
    /// (rows of `up`/`gate`, columns of `down`). The widths must agree as in `init`.
    public func replaceProjections(up: Linear, gate: Linear?, down: Linear) {
        precondition(up.outFeatures == down.inFeatures, "feed-forward: up \(up.weight.shape) and down \(down.weight.shape) disagree")
        precondition((gate == nil) == (self.gate == nil) && (gate.map { $0.weight.shape == up.weight.shape } ?? true),
                     "feed-forward: gate must match up \(up.weight.shape) and keep the block's kind")
        self.up = up; self.gate = gate; self.down = down
    }

    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        let h: Variable
        if let gate {
            h = tape.mul(activation.apply(gate(x, tape: tape), tape: tape), up(x, tape: tape))
        } else {
            h = activation.apply(up(x, tape: tape), tape: tape)
        }
        return down(h, tape: tape)
    }

    public var children: [(name: String, module: ParameterContainer)] {
        [("up_proj", up as ParameterContainer)] + (gate.map { [("gate_proj", $0 as ParameterContainer)] } ?? []) + [("down_proj", down)]
    }

    /// Replaces one projection by a Linear of the same shape (`replaceProjections` changes widths).
    public func replaceChild(_ name: String, with module: ParameterContainer) -> Bool {
        guard let linear = module as? Linear else { return false }
        switch name {
        case "up_proj" where up.weight.shape == linear.weight.shape: up = linear
        case "gate_proj" where gate?.weight.shape == linear.weight.shape: gate = linear
        case "down_proj" where down.weight.shape == linear.weight.shape: down = linear
        default: return false
        }
        return true
    }
}
