import NanoTensor

/// `y = x·Wᵀ + b` with W: [out, in], the PyTorch convention checkpoints use.
public final class Linear: ParameterContainer {
    public let weight: Variable
    public let bias: Variable?

    /// Sees every input before the product, as [rows, in]: calibration (GPTQ Hessians, Wanda
    /// norms, activation observers) reads a model's Linear inputs through its ordinary forward pass.
    public var inputObserver: ((Tensor) -> Void)?
    /// Replaces the input by a transformed one before the product (simulated activation
    /// quantization). On a recording tape the gradient passes straight through (STE).
    public var inputTransform: ((Tensor) -> Tensor)?
    /// Replaces the weight the product uses by an op on the tape (fake quantization in
    /// quantization-aware training): its backward decides what reaches the float weight (straight
    /// through for plain QAT) and any parameters of its own (LSQ's scales).
    public var weightTransform: ((Variable, Tape) -> Variable)?

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// Wraps existing tensors (from a checkpoint or a pass).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be [out, in], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Linear: bias \(bias.shape) does not match weight \(weight.shape)") }
        self.weight = Variable(weight, requiresGrad: true)
        self.bias = bias.map { Variable($0, requiresGrad: true) }
    }

    /// Fresh layer: weights N(0, std²) when `std` is given (GPT-style), otherwise PyTorch's default
    /// U(-1/√in, 1/√in); bias zero (or uniform in the default scheme).
    public convenience init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, std: Float? = nil, rng: inout RandomGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        let w = std.map { rng.normal(shape: [outFeatures, inFeatures], std: $0) }
            ?? rng.uniform(shape: [outFeatures, inFeatures], low: -bound, high: bound)
        let b: Tensor? = bias ? (std == nil ? rng.uniform(shape: [outFeatures], low: -bound, high: bound) : .zeros([outFeatures])) : nil
        self.init(weight: w, bias: b)
    }

    /// x: [..., in] → [..., out]
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        guard inputObserver != nil || inputTransform != nil || weightTransform != nil else { return tape.linear(x, weight: weight, bias: bias) }
        inputObserver?(x.value.reshaped([x.value.count / Swift.max(inFeatures, 1), inFeatures]))
        var input = x, w = weight
        if let transform = inputTransform {
            let shape = x.shape
            input = tape.record(transform(x.value).reshaped(shape), inputs: [x]) { g, _ in [g] }
        }
        if let transform = weightTransform { w = transform(weight, tape) }
        return tape.linear(input, weight: w, bias: bias)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "weight"), weight)
        if let bias { visit(join(prefix, "bias"), bias) }
    }
}
