/// A Keras convolutional graph in full-integer int8 arithmetic, TFLite Micro / CMSIS-NN style, and
/// exactly what its C export computes (`IntegerKernels`, `FixedPoint`):
///
/// - BatchNormalization is folded into the convolution before it (`KerasBatchNormFolding`).
/// - Activations are int8 per tensor (scale, zero point) on ranges measured by running the float
///   model on calibration images (min/max, widened to contain 0).
/// - Weights are int8 symmetric per output channel (a SeparableConv2D is a depthwise then a
///   pointwise convolution, each with its own scales; a Dense layer a 1×1 convolution); biases
///   int32 with scale sIn·sW[o]; requantization by a Q31 multiplier and shift per channel.
/// - ReLU / ReLU6 after a convolution are its output clamp; elsewhere a clamp op. Max pooling
///   keeps its input's grid; global average pooling and residual Adds (TFLite's 2^20 rescaling)
///   requantize onto their output's grid.
/// - A final softmax stays outside: the output is the int8 logits it would read.
public struct IntegerCNN: Sendable {
    /// One int8 activation tensor of one image.
    public struct ActivationTensor: Sendable, Equatable {
        /// The Keras layer that produces it (`separable_conv2d_1/depthwise` for a separable's middle).
        public var name: String
        /// [height, width, channels], or [features].
        public var shape: [Int]
        public var grid: QuantizationParameters
        public var count: Int { shape.reduce(1, *) }
    }

    /// A convolution's int8 weights and per-channel requantization.
    public struct Convolution: Sendable {
        public var window: IntegerKernels.Window
        /// [out][kh][kw][in], or [out][kh][kw] with `depthMultiplier` ≥ 1.
        public var weights: [Int8]
        public var weightScales: [Float]
        public var bias: [Int32]
        public var multipliers: [FixedPoint.Multiplier]
        /// 0 for a dense convolution.
        public var depthMultiplier: Int
        public var activationMinimum: Int32
        public var activationMaximum: Int32
        /// ‖W − codes·scales‖ / ‖W‖ of the (folded) float weights, for the report.
        public var relativeWeightError: Double = 0
    }

    /// What an operation computes.
    public enum Kind: Sendable {
        case convolution(Convolution)
        case maxPool(IntegerKernels.Window)
        case globalAveragePool(FixedPoint.Multiplier)
        /// Multipliers of input a, input b and the sum (TFLite's Add), and the clamp.
        case add(a: FixedPoint.Multiplier, b: FixedPoint.Multiplier, output: FixedPoint.Multiplier, minimum: Int32, maximum: Int32)
        case clamp(minimum: Int32, maximum: Int32)
    }

    /// One operation: tensors by index into `tensors`.
    public struct Operation: Sendable {
        /// The Keras layer it comes from.
        public var layer: String
        public var kind: Kind
        public var inputs: [Int]
        public var output: Int
    }

    public var tensors: [ActivationTensor]
    /// In execution order; each reads tensors written before it.
    public var operations: [Operation]
    /// The index of the input tensor.
    public var input: Int
    /// The index of the output tensor (the logits).
    public var output: Int
    /// The BatchNormalization layers folded, as `bn → conv`.
    public var folds: [String]
    /// The percentile each activation range was clipped to (nil: min/max), as calibrated.
    public var activationPercentile: Double? = nil

    public var inputGrid: QuantizationParameters { tensors[input].grid }
    public var outputGrid: QuantizationParameters { tensors[output].grid }
    public var inputCount: Int { tensors[input].count }
    public var classCount: Int { tensors[output].count }

    /// The image (NHWC values, `inputCount` of them) on the input grid.
    public func quantizeInput(_ features: [Float]) -> [Int8] {
        precondition(features.count == inputCount, "IntegerCNN: expected \(inputCount) inputs, got \(features.count)")
        return features.map { FixedPoint.quantizeInput($0, inputGrid) }
    }

    /// Every tensor's int8 values for one quantized image.
    public func run(_ inputQ: [Int8]) -> [[Int8]] {
        var values = [[Int8]](repeating: [], count: tensors.count)
        values[input] = inputQ
        for op in operations { apply(op, to: &values) }
        return values
    }

    /// Runs one operation: reads its inputs from `values` (by tensor index), writes its output there.
    func apply(_ op: Operation, to values: inout [[Int8]]) {
        let x = values[op.inputs[0]]
        let inGrid = tensors[op.inputs[0]].grid, outGrid = tensors[op.output].grid
        switch op.kind {
        case .convolution(let c):
            values[op.output] = IntegerKernels.convolution(
                x, c.window, weights: c.weights, bias: c.bias, multipliers: c.multipliers, depthMultiplier: c.depthMultiplier,
                inputZeroPoint: inGrid.zeroPoint, outputZeroPoint: outGrid.zeroPoint,
                activationMinimum: c.activationMinimum, activationMaximum: c.activationMaximum)
        case .maxPool(let window):
            values[op.output] = IntegerKernels.maxPool(x, window)
        case .globalAveragePool(let m):
            let channels = tensors[op.output].count
            values[op.output] = IntegerKernels.globalAveragePool(x, pixels: x.count / channels, channels: channels, multiplier: m,
                                                                 inputZeroPoint: inGrid.zeroPoint, outputZeroPoint: outGrid.zeroPoint)
        case let .add(a, b, output, minimum, maximum):
            values[op.output] = IntegerKernels.add(x, values[op.inputs[1]], aZeroPoint: inGrid.zeroPoint,
                                                   bZeroPoint: tensors[op.inputs[1]].grid.zeroPoint, outputZeroPoint: outGrid.zeroPoint,
                                                   aMultiplier: a, bMultiplier: b, outputMultiplier: output,
                                                   activationMinimum: minimum, activationMaximum: maximum)
        case let .clamp(minimum, maximum):
            values[op.output] = IntegerKernels.clamp(x, minimum: minimum, maximum: maximum)
        }
    }

    /// The int8 logits of a quantized image.
    public func logits(_ inputQ: [Int8]) -> [Int8] { run(inputQ)[output] }

    /// The predicted class: the first index of the largest int8 logit.
    public func predict(_ features: [Float]) -> Int { FixedPoint.argmax(logits(quantizeInput(features))) }

    /// The logits as real numbers ((q − zero point) · scale).
    public func dequantizedLogits(_ features: [Float]) -> [Float] {
        logits(quantizeInput(features)).map { QuantizationNumerics.dequantize(Int32($0), outputGrid) }
    }

    /// int8 weight bytes, int32 bias + multiplier bytes and int8 shift bytes of all convolutions.
    public var constantBytes: (weights: Int, biases: Int, multipliers: Int, shifts: Int) {
        var sizes = (weights: 0, biases: 0, multipliers: 0, shifts: 0)
        for op in operations {
            guard case .convolution(let c) = op.kind else { continue }
            sizes.weights += c.weights.count
            sizes.biases += 4 * c.bias.count
            sizes.multipliers += 4 * c.multipliers.count
            sizes.shifts += c.multipliers.count
        }
        return sizes
    }
}
