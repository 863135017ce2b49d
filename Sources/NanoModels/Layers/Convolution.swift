import NanoTensor

/// Glorot-uniform values for a fresh kernel (Keras's default initializer): U(±√(6 / (fanIn + fanOut))).
func glorotUniform(_ shape: [Int], fanIn: Int, fanOut: Int, rng: inout RandomGenerator) -> Tensor {
    let bound = (6 / Float(Swift.max(1, fanIn + fanOut))).squareRoot()
    return rng.uniform(shape: shape, low: -bound, high: bound)
}

/// A 2-D convolution over NHWC activations, kernel [kh, kw, in, out] and optional bias [out]
/// (Keras's `Conv2D`, its variable names `kernel` and `bias`).
public final class Conv2D: ParameterContainer {
    public let kernel: Variable
    public let bias: Variable?
    public let geometry: Conv2DGeometry
    /// Replaces the kernel in the forward pass by an op of it (QAT's fake quantization), as
    /// `Linear.weightTransform` does; nil for the plain kernel.
    public var kernelTransform: ((Variable, Tape) -> Variable)?

    public var inChannels: Int { kernel.shape[2] }
    public var outChannels: Int { kernel.shape[3] }

    public init(kernel: Tensor, bias: Tensor?, geometry: Conv2DGeometry) {
        precondition(kernel.rank == 4 && kernel.shape[0] == geometry.kernelHeight && kernel.shape[1] == geometry.kernelWidth,
                     "Conv2D: kernel \(kernel.shape) does not match \(geometry)")
        if let bias { precondition(bias.shape == [kernel.shape[3]], "Conv2D: bias \(bias.shape) does not match kernel \(kernel.shape)") }
        self.kernel = Variable(kernel, requiresGrad: true)
        self.bias = bias.map { Variable($0, requiresGrad: true) }
        self.geometry = geometry
    }

    /// Fresh layer: Glorot-uniform kernel, zero bias.
    public convenience init(inChannels: Int, outChannels: Int, geometry: Conv2DGeometry, bias: Bool, rng: inout RandomGenerator) {
        let (kh, kw) = (geometry.kernelHeight, geometry.kernelWidth)
        let k = glorotUniform([kh, kw, inChannels, outChannels], fanIn: kh * kw * inChannels, fanOut: kh * kw * outChannels, rng: &rng)
        self.init(kernel: k, bias: bias ? .zeros([outChannels]) : nil, geometry: geometry)
    }

    /// x: [N, H, W, in] → [N, outH, outW, out]
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        tape.conv2d(x, kernel: kernelTransform.map { $0(kernel, tape) } ?? kernel, bias: bias, geometry: geometry)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "kernel"), kernel)
        if let bias { visit(join(prefix, "bias"), bias) }
    }
}

/// A depthwise 2-D convolution, kernel [kh, kw, C, M] (Keras's `DepthwiseConv2D`: `depthwise_kernel`,
/// `bias` [C·M]); with a pointwise kernel [1, 1, C·M, out] after it, Keras's `SeparableConv2D`
/// (`pointwise_kernel`, the bias then [out]).
public final class DepthwiseConv2D: ParameterContainer {
    public let depthwiseKernel: Variable
    public let pointwiseKernel: Variable?
    public let bias: Variable?
    public let geometry: Conv2DGeometry
    /// Ops replacing the depthwise and pointwise kernels in the forward pass (QAT's fake
    /// quantization), and one applied to a separable's middle tensor (the depthwise output the
    /// pointwise kernel reads); nil: none.
    public var depthwiseKernelTransform: ((Variable, Tape) -> Variable)?
    public var pointwiseKernelTransform: ((Variable, Tape) -> Variable)?
    public var middleTransform: ((Variable, Tape) -> Variable)?

    public var inChannels: Int { depthwiseKernel.shape[2] }
    public var outChannels: Int { pointwiseKernel?.shape[3] ?? depthwiseKernel.shape[2] * depthwiseKernel.shape[3] }

    public init(depthwiseKernel: Tensor, pointwiseKernel: Tensor?, bias: Tensor?, geometry: Conv2DGeometry) {
        let d = depthwiseKernel.shape
        precondition(d.count == 4 && d[0] == geometry.kernelHeight && d[1] == geometry.kernelWidth,
                     "DepthwiseConv2D: kernel \(d) does not match \(geometry)")
        if let p = pointwiseKernel?.shape {
            precondition(p.count == 4 && p[0] == 1 && p[1] == 1 && p[2] == d[2] * d[3],
                         "DepthwiseConv2D: pointwise kernel \(p) should be [1, 1, \(d[2] * d[3]), out]")
        }
        self.depthwiseKernel = Variable(depthwiseKernel, requiresGrad: true)
        self.pointwiseKernel = pointwiseKernel.map { Variable($0, requiresGrad: true) }
        self.bias = bias.map { Variable($0, requiresGrad: true) }
        self.geometry = geometry
        if let bias { precondition(bias.shape == [outChannels], "DepthwiseConv2D: bias \(bias.shape) where the output has \(outChannels) channels") }
    }

    /// Fresh layer: Glorot-uniform kernels, zero bias; `pointwise` output channels for a separable one.
    public convenience init(channels: Int, multiplier: Int, pointwise: Int?, geometry: Conv2DGeometry, bias: Bool,
                            rng: inout RandomGenerator) {
        let (kh, kw) = (geometry.kernelHeight, geometry.kernelWidth)
        let d = glorotUniform([kh, kw, channels, multiplier], fanIn: kh * kw, fanOut: kh * kw * multiplier, rng: &rng)
        let p = pointwise.map { glorotUniform([1, 1, channels * multiplier, $0], fanIn: channels * multiplier, fanOut: $0, rng: &rng) }
        let out = pointwise ?? channels * multiplier
        self.init(depthwiseKernel: d, pointwiseKernel: p, bias: bias ? .zeros([out]) : nil, geometry: geometry)
    }

    /// x: [N, H, W, C] → [N, outH, outW, C·M] (depthwise) or [N, outH, outW, out] (separable).
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        let dk = depthwiseKernelTransform.map { $0(depthwiseKernel, tape) } ?? depthwiseKernel
        guard let pointwise = pointwiseKernel else { return tape.depthwiseConv2d(x, kernel: dk, bias: bias, geometry: geometry) }
        var depthwise = tape.depthwiseConv2d(x, kernel: dk, geometry: geometry)
        if let middleTransform { depthwise = middleTransform(depthwise, tape) }
        let pk = pointwiseKernelTransform.map { $0(pointwise, tape) } ?? pointwise
        return tape.conv2d(depthwise, kernel: pk, bias: bias, geometry: Conv2DGeometry(kernel: (1, 1)))
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "depthwise_kernel"), depthwiseKernel)
        if let pointwiseKernel { visit(join(prefix, "pointwise_kernel"), pointwiseKernel) }
        if let bias { visit(join(prefix, "bias"), bias) }
    }
}

/// Batch normalisation over the last (channel) axis with its moving statistics, as at inference:
/// `y = x·s + (β - μ·s)`, `s = γ / √(σ² + ε)` — TensorFlow's `tf.nn.batch_normalization`
/// arithmetic, which Keras's inference path uses. γ and β are trainable; the moving mean and
/// variance are stored (Keras's `moving_mean`, `moving_variance`) but receive no gradient.
public final class BatchNormalization: ParameterContainer {
    public let gamma: Variable?
    public let beta: Variable?
    public let movingMean: Variable
    public let movingVariance: Variable
    public let epsilon: Float

    public var channels: Int { movingMean.shape[0] }

    public init(gamma: Tensor?, beta: Tensor?, movingMean: Tensor, movingVariance: Tensor, epsilon: Float) {
        let c = movingMean.shape
        precondition(c.count == 1 && movingVariance.shape == c && (gamma?.shape ?? c) == c && (beta?.shape ?? c) == c,
                     "BatchNormalization: statistics and scales must be equal 1-D")
        self.gamma = gamma.map { Variable($0, requiresGrad: true) }
        self.beta = beta.map { Variable($0, requiresGrad: true) }
        self.movingMean = Variable(movingMean)
        self.movingVariance = Variable(movingVariance)
        self.epsilon = epsilon
    }

    /// Fresh layer: γ 1, β 0, mean 0, variance 1 (`center` / `scale` false leave β / γ out).
    public convenience init(channels: Int, epsilon: Float, center: Bool = true, scale: Bool = true) {
        self.init(gamma: scale ? .ones([channels]) : nil, beta: center ? .zeros([channels]) : nil,
                  movingMean: .zeros([channels]), movingVariance: .ones([channels]), epsilon: epsilon)
    }

    /// x: [..., C] → [..., C]
    public func callAsFunction(_ x: Variable, tape: Tape) -> Variable {
        var s = tape.div(tape.constant(.ones([channels])), tape.sqrt(tape.addScalar(movingVariance, epsilon)))
        if let gamma { s = tape.mul(s, gamma) }
        var shift = tape.neg(tape.mul(movingMean, s))
        if let beta { shift = tape.add(beta, shift) }
        return tape.add(tape.mul(x, s), shift)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        if let gamma { visit(join(prefix, "gamma"), gamma) }
        if let beta { visit(join(prefix, "beta"), beta) }
        visit(join(prefix, "moving_mean"), movingMean)
        visit(join(prefix, "moving_variance"), movingVariance)
    }
}
