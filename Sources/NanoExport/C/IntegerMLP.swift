import NanoQuant
import NanoModels
import NanoTensor

/// A ReLU MLP classifier in full-integer int8 arithmetic, as TFLite Micro and CMSIS-NN run it, and
/// exactly what the C export computes (both go through `FixedPoint`).
///
/// - The input is quantized per tensor to int8 with a scale and zero point from the min/max of the
///   calibration features (the range widened to contain 0).
/// - Weights are int8 symmetric per output channel (scale = max|W[c, :]| / 127); the bias is int32
///   with scale s_in · s_w[c] and zero point 0.
/// - Each layer's output grid (int8, per tensor) comes from the float model's outputs on the
///   calibration rows; hidden layers are measured after their ReLU, which is then fused as a clamp
///   at the output zero point.
/// - The int32 accumulator is brought onto the output grid by M = s_in · s_w[c] / s_out, held as a
///   Q31 multiplier and a shift per channel (`FixedPoint.Multiplier`).
/// - The prediction is the argmax of the int8 logits, the first on ties. The int32 accumulators of
///   the last layer would not do: each channel has its own weight scale, so they are not comparable.
public struct IntegerMLP: Sendable {
    /// Where a layer's int8 weights came from.
    public enum WeightSource: Equatable, Sendable {
        /// The int8 symmetric codes and scales of `ExportSource.quantized`, used as they are.
        case packed
        /// Quantized here from the model's float (possibly dequantized) weights.
        case requantized
    }

    /// One fully connected layer on int8 activations.
    public struct Layer: Sendable {
        /// `layers.N`.
        public var name: String
        public var inputs: Int
        public var outputs: Int
        /// [outputs, inputs], row-major.
        public var weights: [Int8]
        /// Per output channel.
        public var weightScales: [Float]
        /// Per output channel, scale input.scale · weightScales[c], zero point 0.
        public var bias: [Int32]
        /// Per output channel: input.scale · weightScales[c] / output.scale.
        public var multipliers: [FixedPoint.Multiplier]
        /// The grid of the layer's int8 input (the previous layer's output grid).
        public var input: QuantizationParameters
        /// The grid of the layer's int8 output.
        public var output: QuantizationParameters
        /// The smallest output code: the output zero point under a fused ReLU, −128 otherwise.
        public var activationMinimum: Int32
        public var weightSource: WeightSource

        /// x: [inputs] on the input grid → [outputs] on the output grid.
        public func callAsFunction(_ x: [Int8]) -> [Int8] {
            FixedPoint.fullyConnected(x, weights: weights, bias: bias, multipliers: multipliers,
                                      inputZeroPoint: input.zeroPoint, outputZeroPoint: output.zeroPoint,
                                      activationMinimum: activationMinimum)
        }
    }

    /// The int8 grid of the input features.
    public var input: QuantizationParameters
    public var layers: [Layer]

    public var inputs: Int { layers[0].inputs }
    public var classes: Int { layers[layers.count - 1].outputs }

    /// Quantizes `model` with activation ranges measured on `features` (rows of `inputs` values).
    /// A layer named in `quantized` whose packed weight is int8 symmetric per channel (or per
    /// tensor) keeps its codes and scales; every other layer is quantized from its float weights.
    public init(calibrating model: MLPClassifier, features: [[Float]],
                quantized: [String: QuantizedTensor] = [:]) throws {
        guard model.configuration.activation == .relu else {
            throw CExportError.unsupportedActivation(model.configuration.activation)
        }
        let ranges = try Self.outputRanges(model, features: features)
        input = Self.int8Grid(min: ranges.input.min, max: ranges.input.max)
        var layers: [Layer] = []
        var gridIn = input
        for (i, linear) in model.layers.enumerated() {
            let name = "layers.\(i)"
            let isLast = i == model.layers.count - 1
            let gridOut = Self.int8Grid(min: ranges.outputs[i].min, max: ranges.outputs[i].max)
            let layer = try Self.layer(linear, name: name, packed: quantized[name], input: gridIn, output: gridOut,
                                       relu: !isLast)
            layers.append(layer)
            gridIn = gridOut
        }
        self.layers = layers
    }

    /// The features on the input grid.
    public func quantizeInput(_ features: [Float]) -> [Int8] {
        precondition(features.count == inputs, "IntegerMLP: expected \(inputs) features, got \(features.count)")
        return features.map { FixedPoint.quantizeInput($0, input) }
    }

    /// The int8 logits (on the last layer's output grid) of a quantized input.
    public func logits(_ inputQ: [Int8]) -> [Int8] {
        var h = inputQ
        for layer in layers { h = layer(h) }
        return h
    }

    /// The predicted class: the first index of the largest int8 logit.
    public func predict(_ features: [Float]) -> Int {
        FixedPoint.argmax(logits(quantizeInput(features)))
    }

    /// The logits as real numbers ((q − zero point) · scale).
    public func dequantizedLogits(_ features: [Float]) -> [Float] {
        let out = layers[layers.count - 1].output
        return logits(quantizeInput(features)).map { QuantizationNumerics.dequantize(Int32($0), out) }
    }

    // MARK: Construction

    /// An int8 grid [−128, 127] over [min, max] widened to contain 0: the asymmetric 8-bit grid of
    /// `QuantizationNumerics` ([0, 255]) with its zero point moved down by 128.
    static func int8Grid(min: Float, max: Float) -> QuantizationParameters { FixedPoint.int8Grid(min: min, max: max) }

    /// The min/max of the input features and of every layer's output (after ReLU for hidden
    /// layers), from the float model's own forward pass.
    static func outputRanges(_ model: MLPClassifier, features: [[Float]]) throws
        -> (input: (min: Float, max: Float), outputs: [(min: Float, max: Float)]) {
        let width = model.layers[0].inFeatures
        guard !features.isEmpty else { throw CExportError.invalidCalibration(reason: "no calibration rows") }
        var flat: [Float] = []
        flat.reserveCapacity(features.count * width)
        for (r, row) in features.enumerated() {
            guard row.count == width else {
                throw CExportError.invalidCalibration(reason: "row \(r + 1) has \(row.count) features, the model takes \(width)")
            }
            guard row.allSatisfy(\.isFinite) else {
                throw CExportError.invalidCalibration(reason: "row \(r + 1) holds a value that is not finite")
            }
            flat += row
        }
        func range(_ values: [Float]) -> (min: Float, max: Float) {
            (values.min() ?? 0, values.max() ?? 0)
        }
        // The input of layer i + 1 is the output of layer i after its activation.
        var observed = [(min: Float, max: Float)?](repeating: nil, count: model.layers.count)
        let hidden = model.layers.enumerated().dropFirst().map { (name: "\($0.offset - 1)", layer: $0.element) }
        var logits = Tensor(shape: [0], scalars: [])
        LinearInputs.observe(hidden, during: {
            logits = model(Variable(Tensor(shape: [features.count, width], scalars: flat)), tape: Tape(recording: false)).value
        }) { name, x in
            guard let i = Int(name) else { return }
            let r = range(x.scalars)
            observed[i] = observed[i].map { (Swift.min($0.min, r.min), Swift.max($0.max, r.max)) } ?? r
        }
        observed[model.layers.count - 1] = range(logits.scalars)
        var outputs: [(min: Float, max: Float)] = []
        for (i, r) in observed.enumerated() {
            guard let r, r.min.isFinite, r.max.isFinite else {
                throw CExportError.invalidCalibration(reason: "layers.\(i) produced no finite outputs on the calibration rows")
            }
            outputs.append(r)
        }
        return (range(flat), outputs)
    }

    static func layer(_ linear: Linear, name: String, packed: QuantizedTensor?, input: QuantizationParameters,
                      output: QuantizationParameters, relu: Bool) throws -> Layer {
        let w = linear.weight.value
        let (outputs, inputs) = (w.shape[0], w.shape[1])
        let (codes, scales, source) = try weights(w, name: name, packed: packed)

        let biasValues = linear.bias?.value.scalars ?? [Float](repeating: 0, count: outputs)
        var bias = [Int32](repeating: 0, count: outputs)
        var multipliers: [FixedPoint.Multiplier] = []
        let maxInput = Int64(Swift.max(abs(-128 - input.zeroPoint), abs(127 - input.zeroPoint)))
        for c in 0..<outputs {
            let accumulatorScale = Double(input.scale) * Double(scales[c])
            let b = (Double(biasValues[c]) / accumulatorScale).rounded(.toNearestOrEven)
            bias[c] = b.isFinite ? Int32(Swift.min(Swift.max(b, Double(Int32.min)), Double(Int32.max))) : 0
            let m = accumulatorScale / Double(output.scale)
            guard let multiplier = FixedPoint.quantizeMultiplier(m) else {
                throw CExportError.multiplierOutOfRange(layer: name, channel: c, value: m)
            }
            multipliers.append(multiplier)
            var bound = Int64(bias[c]).magnitude
            for i in 0..<inputs { bound += UInt64(maxInput) * UInt64(abs(Int(codes[c * inputs + i]))) }
            guard bound <= UInt64(Int32.max) else {
                throw CExportError.accumulatorOverflow(layer: name, channel: c, bound: Int64(bound))
            }
        }
        return Layer(name: name, inputs: inputs, outputs: outputs, weights: codes, weightScales: scales, bias: bias,
                     multipliers: multipliers, input: input, output: output,
                     activationMinimum: relu ? output.zeroPoint : -128, weightSource: source)
    }

    /// Int8 symmetric per-channel codes and scales of a weight [out, in].
    static func weights(_ w: Tensor, name: String, packed: QuantizedTensor?) throws
        -> (codes: [Int8], scales: [Float], source: WeightSource) {
        let rows = w.shape[0]
        if let q = packed {
            guard q.shape == w.shape else {
                throw CExportError.quantizedLayerMismatch(layer: name, expected: w.shape, found: q.shape)
            }
            if q.scheme.bits == 8, q.scheme.symmetric, q.scheme.granularity == .channel || q.scheme.granularity == .tensor {
                let scales = (0..<rows).map { q.scales[q.scheme.scaleIndex(row: $0, column: 0, columns: q.columns)] }
                return (q.codes().map { Int8($0) }, scales, .packed)
            }
        }
        let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
        let q = try RTN.quantize(w, scheme: scheme)
        return (q.codes().map { Int8($0) }, q.scales, .requantized)
    }
}
