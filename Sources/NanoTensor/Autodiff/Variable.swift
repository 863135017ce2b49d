/// A node of the autodiff graph: a tensor value and, after `Tape.backward`, its gradient.
///
/// Parameters are long-lived leaf variables with `requiresGrad`; every op recorded on a `Tape`
/// returns a new variable. Reference semantics let a parameter collect gradient from every use.
public final class Variable {
    public var value: Tensor
    /// The accumulated gradient of the loss with respect to `value`, once backward has run.
    public var grad: Tensor?
    /// Whether gradients flow to (and through) this variable.
    public let requiresGrad: Bool

    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }

    /// Adds `g` to the gradient (gradients of a value used twice add up).
    public func accumulate(_ g: Tensor) {
        precondition(g.shape == value.shape, "gradient shape \(g.shape) does not match value shape \(value.shape)")
        if grad == nil { grad = g } else { grad!.addInPlace(g) }
    }

    /// Clears the gradient (before the next step).
    public func zeroGrad() { grad = nil }
}
