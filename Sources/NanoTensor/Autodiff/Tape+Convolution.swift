/// Differentiable 2-D convolutions and pooling over NHWC activations (Keras layouts). Each is one
/// primitive op with its analytic backward (`Tensor+Convolution`, `Tensor+DepthwiseConvolution`,
/// `Tensor+Pooling`); the bias gradient is the output gradient summed over N, H, W.
extension Tape {
    /// x: [N, H, W, C], kernel: [kh, kw, C, O], bias: [O] → [N, outH, outW, O].
    public func conv2d(_ x: Variable, kernel: Variable, bias: Variable? = nil, geometry: Conv2DGeometry) -> Variable {
        let y = Tensor.conv2d(x.value, kernel: kernel.value, bias: bias?.value, geometry: geometry)
        let inputs = bias.map { [x, kernel, $0] } ?? [x, kernel]
        return record(y, inputs: inputs) { g, needs in
            let (dx, dk) = Tensor.conv2dBackward(x.value, kernel: kernel.value, grad: g, geometry: geometry,
                                                 needsInput: needs[0], needsKernel: needs[1])
            var grads: [Tensor?] = [dx, dk]
            if bias != nil { grads.append(needs[2] ? Self.channelSums(g) : nil) }
            return grads
        }
    }

    /// x: [N, H, W, C], kernel: [kh, kw, C, M], bias: [C·M] → [N, outH, outW, C·M].
    public func depthwiseConv2d(_ x: Variable, kernel: Variable, bias: Variable? = nil, geometry: Conv2DGeometry) -> Variable {
        let y = Tensor.depthwiseConv2d(x.value, kernel: kernel.value, bias: bias?.value, geometry: geometry)
        let inputs = bias.map { [x, kernel, $0] } ?? [x, kernel]
        return record(y, inputs: inputs) { g, needs in
            let (dx, dk) = Tensor.depthwiseConv2dBackward(x.value, kernel: kernel.value, grad: g, geometry: geometry,
                                                          needsInput: needs[0], needsKernel: needs[1])
            var grads: [Tensor?] = [dx, dk]
            if bias != nil { grads.append(needs[2] ? Self.channelSums(g) : nil) }
            return grads
        }
    }

    /// Max pooling; the gradient flows to each window's (first) maximum.
    public func maxPool2d(_ x: Variable, geometry: Conv2DGeometry) -> Variable {
        let (y, indices) = x.value.maxPool2dWithIndices(geometry)
        let inputShape = x.shape
        return record(y, inputs: [x]) { g, _ in [Tensor.maxPool2dBackward(grad: g, indices: indices, inputShape: inputShape)] }
    }

    /// Average pooling over each window's real inputs (TensorFlow's `same`).
    public func avgPool2d(_ x: Variable, geometry: Conv2DGeometry) -> Variable {
        let inputShape = x.shape
        return record(x.value.avgPool2d(geometry), inputs: [x]) { g, _ in
            [Tensor.avgPool2dBackward(grad: g, inputShape: inputShape, geometry: geometry)]
        }
    }

    /// Mean over height and width: [N, H, W, C] → [N, C].
    public func globalAvgPool2d(_ x: Variable) -> Variable {
        let inputShape = x.shape
        return record(x.value.globalAvgPool2d(), inputs: [x]) { g, _ in
            [Tensor.globalAvgPool2dBackward(grad: g, inputShape: inputShape)]
        }
    }

    /// g [N, H, W, C] summed to [C].
    static func channelSums(_ g: Tensor) -> Tensor {
        let c = g.shape[g.rank - 1]
        return g.reshaped([g.count / Swift.max(c, 1), c]).sum(axes: [0])
    }
}
