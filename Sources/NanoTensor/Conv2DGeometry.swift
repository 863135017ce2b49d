/// How a 2-D window op pads its input: Keras / TensorFlow's `"valid"` (no padding) or `"same"`
/// (output extent ⌈in / stride⌉).
public enum Padding2D: String, Codable, Sendable, Equatable {
    case valid
    case same
}

/// The geometry of a 2-D window op (convolution or pooling) over NHWC activations: window,
/// strides, dilation and padding, and what they give for a given input extent.
///
/// `same` follows TensorFlow exactly: the total padding along an axis is
/// `max((out - 1)·stride + (k - 1)·dilation + 1 - in, 0)`, and the smaller half goes before
/// (top / left), the odd element after (bottom / right). (PyTorch's symmetric `padding=k//2`
/// differs for even windows and for stride 2 on even inputs.)
public struct Conv2DGeometry: Sendable, Equatable, CustomStringConvertible {
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var dilationHeight: Int, dilationWidth: Int
    public var padding: Padding2D

    public init(kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding2D = .valid) {
        precondition(kernel.0 > 0 && kernel.1 > 0, "Conv2DGeometry: kernel \(kernel) must be positive")
        precondition(strides.0 > 0 && strides.1 > 0, "Conv2DGeometry: strides \(strides) must be positive")
        precondition(dilation.0 > 0 && dilation.1 > 0, "Conv2DGeometry: dilation \(dilation) must be positive")
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = strides
        (dilationHeight, dilationWidth) = dilation
        self.padding = padding
    }

    /// One axis of the geometry for an input extent: output extent and the padding before it.
    public struct Axis: Sendable, Equatable {
        public var input: Int, output: Int, padBefore: Int
        public var kernel: Int, stride: Int, dilation: Int

        /// The input position read by output position `o` and window tap `k` (may be outside
        /// 0..<input, which reads padding).
        @inline(__always) public func source(_ o: Int, _ k: Int) -> Int { o * stride + k * dilation - padBefore }
    }

    static func axis(input: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding2D) -> Axis {
        let span = (kernel - 1) * dilation + 1
        switch padding {
        case .valid:
            let output = input >= span ? (input - span) / stride + 1 : 0
            return Axis(input: input, output: output, padBefore: 0, kernel: kernel, stride: stride, dilation: dilation)
        case .same:
            let output = (input + stride - 1) / stride
            let total = Swift.max((output - 1) * stride + span - input, 0)
            return Axis(input: input, output: output, padBefore: total / 2, kernel: kernel, stride: stride, dilation: dilation)
        }
    }

    /// The vertical axis for input height `h`.
    public func rows(_ h: Int) -> Axis {
        Self.axis(input: h, kernel: kernelHeight, stride: strideHeight, dilation: dilationHeight, padding: padding)
    }

    /// The horizontal axis for input width `w`.
    public func columns(_ w: Int) -> Axis {
        Self.axis(input: w, kernel: kernelWidth, stride: strideWidth, dilation: dilationWidth, padding: padding)
    }

    /// Output [height, width] for an input of [height, width].
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (rows(height).output, columns(width).output)
    }

    public var description: String {
        "kernel \(kernelHeight)×\(kernelWidth), strides \(strideHeight)×\(strideWidth), dilation \(dilationHeight)×\(dilationWidth), \(padding.rawValue)"
    }
}
