import NanoQuant

/// The integer models as TFLite operators. Each operator is one LiteRT computes with exactly
/// nanoforge's arithmetic: its multipliers are those LiteRT derives from the float scales in the
/// file (checked here, operator by operator, against the integer model's own), its clamps those of
/// its fused activation on the output grid.
extension TFLiteExporter {
    /// The subgraph of an integer CNN and the index of its logits tensor. Tensors are NHWC with a
    /// batch of 1 ([1, h, w, c]); a feature vector is [1, n].
    /// - Convolutions: CONV_2D (weights [out, kh, kw, in], per-channel along 0) or
    ///   DEPTHWISE_CONV_2D (weights [1, kh, kw, in·m], per-channel along 3); a Dense layer a 1×1
    ///   CONV_2D between RESHAPEs (`dense`).
    /// - Global average pooling: a DEPTHWISE_CONV_2D over the whole image with weights 1 of scale
    ///   1/pixels (TFLite then multiplies the sum by sIn / (pixels·sOut), nanoforge's one rounding),
    ///   then a RESHAPE to [1, c].
    /// - MAX_POOL_2D, ADD (TFLite's int8 Add is the one `IntegerKernels.add` follows), RELU / RELU6.
    static func cnnGraph(_ m: IntegerCNN) throws -> (graph: TFLiteGraph, logits: Int32, notes: [String]) {
        var g = TFLiteGraph(), notes: [String] = []
        let index: [Int32] = m.tensors.map { t in
            g.add(.init(name: t.name, shape: imageShape(t.shape), type: .int8, data: nil, quantization: quantization(t.grid)))
        }
        for op in m.operations {
            let x = m.tensors[op.inputs[0]], y = m.tensors[op.output]
            let xi = index[op.inputs[0]], yi = index[op.output]
            switch op.kind {
            case .convolution(let c):
                try checkMultipliers(c.multipliers, scales: c.weightScales, input: x.grid, output: y.grid, layer: op.layer)
                let activation = try fusedActivation(minimum: c.activationMinimum, maximum: c.activationMaximum, grid: y.grid, layer: op.layer)
                let bias = g.add(biasTensor(c.bias, weightScales: c.weightScales, input: x.grid, name: y.name + "/bias"))
                if y.shape.count == 1 && c.depthMultiplier == 0 {
                    let features = c.weights.count / y.count
                    guard x.count == features else {
                        throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer) reads \(x.count) values but has \(features) weights per output")
                    }
                    dense(&g, input: xi, output: yi, weights: c.weights, scales: c.weightScales, bias: bias, activation: activation,
                          inputGrid: x.grid, outputGrid: y.grid, name: y.name)
                    continue
                }
                let w = c.window
                guard x.shape.count == 3, y.shape.count == 3 else {
                    throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer) convolves a tensor of shape \(x.shape) into \(y.shape)")
                }
                let padding = try self.padding(w, layer: op.layer)
                let (kh, kw) = (Int32(w.kernelHeight), Int32(w.kernelWidth))
                if c.depthMultiplier > 0 {
                    // nanoforge [out][kh][kw] → TFLite [1][kh][kw][out] (out = in·m + k, as both order it).
                    let taps = w.kernelHeight * w.kernelWidth, outs = w.outChannels
                    let transposed = (0..<(taps * outs)).map { i in c.weights[(i % outs) * taps + i / outs] }
                    let filter = g.add(.init(name: y.name + "/weights", shape: [1, kh, kw, Int32(outs)], type: .int8,
                                             data: bytes(transposed), quantization: perChannel(c.weightScales, dimension: 3)))
                    g.operators.append(.init(code: .depthwiseConv2d, inputs: [xi, filter, bias], outputs: [yi], options: .depthwiseConv2d(
                        padding: padding, strideW: Int32(w.strideWidth), strideH: Int32(w.strideHeight), depthMultiplier: Int32(c.depthMultiplier),
                        activation: activation, dilationW: Int32(w.dilationWidth), dilationH: Int32(w.dilationHeight))))
                } else {
                    let filter = g.add(.init(name: y.name + "/weights", shape: [Int32(w.outChannels), kh, kw, Int32(w.inChannels)], type: .int8,
                                             data: bytes(c.weights), quantization: perChannel(c.weightScales, dimension: 0)))
                    g.operators.append(.init(code: .conv2d, inputs: [xi, filter, bias], outputs: [yi], options: .conv2d(
                        padding: padding, strideW: Int32(w.strideWidth), strideH: Int32(w.strideHeight), activation: activation,
                        dilationW: Int32(w.dilationWidth), dilationH: Int32(w.dilationHeight))))
                }
            case .maxPool(let w):
                guard w.dilationHeight == 1, w.dilationWidth == 1, x.grid == y.grid else {
                    throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer): TFLite's MAX_POOL_2D has no dilation and keeps its input's grid")
                }
                g.operators.append(.init(code: .maxPool2d, inputs: [xi], outputs: [yi], options: .pool2d(
                    padding: try padding(w, layer: op.layer), strideW: Int32(w.strideWidth), strideH: Int32(w.strideHeight),
                    filterWidth: Int32(w.kernelWidth), filterHeight: Int32(w.kernelHeight), activation: .none)))
            case .globalAveragePool(let multiplier):
                guard x.shape.count == 3 else {
                    throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer) pools a tensor of shape \(x.shape)")
                }
                let (h, w, channels) = (x.shape[0], x.shape[1], x.shape[2])
                let (weightScale, pooledScale) = try poolingScales(pixels: h * w, multiplier: multiplier, input: x.grid, output: y.grid, layer: op.layer)
                if pooledScale != y.grid.scale {
                    notes.append("\(op.layer): the pooled tensor before the RESHAPE has scale \(pooledScale), not \(y.grid.scale), so that LiteRT derives "
                                 + "nanoforge's multiplier sIn/(\(h * w)·sOut) from float scales exactly; the two scales differ by "
                                 + String(format: "%.1e", abs(Double(pooledScale) / Double(y.grid.scale) - 1)) + " relative")
                }
                let filter = g.add(.init(name: y.name + "/ones", shape: [1, Int32(h), Int32(w), Int32(channels)], type: .int8,
                                         data: [UInt8](repeating: 1, count: h * w * channels),
                                         quantization: perChannel([Float](repeating: weightScale, count: channels), dimension: 3)))
                let bias = g.add(biasTensor([Int32](repeating: 0, count: channels), weightScales: [Float](repeating: weightScale, count: channels),
                                            input: x.grid, name: y.name + "/bias"))
                let pooled = g.add(.init(name: y.name + "/pooled", shape: [1, 1, 1, Int32(channels)], type: .int8, data: nil,
                                         quantization: quantization(QuantizationParameters(scale: pooledScale, zeroPoint: y.grid.zeroPoint))))
                g.operators.append(.init(code: .depthwiseConv2d, inputs: [xi, filter, bias], outputs: [pooled], options: .depthwiseConv2d(
                    padding: .valid, strideW: 1, strideH: 1, depthMultiplier: 1, activation: .none, dilationW: 1, dilationH: 1)))
                reshape(&g, pooled, into: yi, shape: [1, Int32(channels)], name: y.name)
            case let .add(a, b, output, minimum, maximum):
                let x2 = m.tensors[op.inputs[1]]
                let twiceMax = 2 * Double(max(x.grid.scale, x2.grid.scale))
                let expected = [Double(x.grid.scale) / twiceMax, Double(x2.grid.scale) / twiceMax,
                                twiceMax / (Double(1 << IntegerKernels.addLeftShift) * Double(y.grid.scale))].map(FixedPoint.quantizeMultiplier)
                guard expected == [a, b, output] else {
                    throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer): LiteRT's ADD would derive other multipliers from the scales")
                }
                let activation = try fusedActivation(minimum: minimum, maximum: maximum, grid: y.grid, layer: op.layer)
                g.operators.append(.init(code: .add, inputs: [xi, index[op.inputs[1]]], outputs: [yi], options: .add(activation: activation)))
            case let .clamp(minimum, maximum):
                let activation = try fusedActivation(minimum: minimum, maximum: maximum, grid: y.grid, layer: op.layer)
                guard activation != .none, x.grid == y.grid else {
                    throw ExportError.unsupportedFormat("tflite", reason: "layer \(op.layer) clamps to [\(minimum), \(maximum)]: neither RELU nor RELU6 on its grid")
                }
                g.operators.append(.init(code: activation == .relu ? .relu : .relu6, inputs: [xi], outputs: [yi], options: .none))
            }
        }
        g.inputs = [index[m.input]]
        return (g, index[m.output], notes)
    }

    /// The subgraph of an integer MLP (its layers as `dense`, ReLU fused) and its logits tensor.
    static func mlpGraph(_ m: IntegerMLP) throws -> (graph: TFLiteGraph, logits: Int32) {
        var g = TFLiteGraph()
        var x = g.add(.init(name: "input", shape: [1, Int32(m.inputs)], type: .int8, data: nil, quantization: quantization(m.input)))
        g.inputs = [x]
        for layer in m.layers {
            try checkMultipliers(layer.multipliers, scales: layer.weightScales, input: layer.input, output: layer.output, layer: layer.name)
            let activation = try fusedActivation(minimum: layer.activationMinimum, maximum: 127, grid: layer.output, layer: layer.name)
            let bias = g.add(biasTensor(layer.bias, weightScales: layer.weightScales, input: layer.input, name: layer.name + ".bias"))
            let y = g.add(.init(name: layer.name, shape: [1, Int32(layer.outputs)], type: .int8, data: nil, quantization: quantization(layer.output)))
            dense(&g, input: x, output: y, weights: layer.weights, scales: layer.weightScales, bias: bias, activation: activation,
                  inputGrid: layer.input, outputGrid: layer.output, name: layer.name)
            x = y
        }
        return (g, x)
    }

    /// A Dense layer (weights [out, in], per-channel) from `input` to the [1, out] tensor `output`,
    /// as RESHAPE to [1, 1, 1, in], CONV_2D 1×1, RESHAPE to [1, out]. Not FULLY_CONNECTED: LiteRT's
    /// per-channel int8 FULLY_CONNECTED requantizes with one rounding (64-bit), its CONV_2D with
    /// gemmlowp's two, as nanoforge does (measured: FULLY_CONNECTED differs by one step on 10 of
    /// the digits MLP's 359 test rows, CONV_2D on none).
    static func dense(_ g: inout TFLiteGraph, input: Int32, output: Int32, weights: [Int8], scales: [Float], bias: Int32,
                      activation: TFLiteGraph.Activation, inputGrid: QuantizationParameters, outputGrid: QuantizationParameters, name: String) {
        let (outputs, inputs) = (scales.count, weights.count / scales.count)
        let image = reshape(&g, input, to: [1, 1, 1, Int32(inputs)], name: name + "/input", grid: inputGrid)
        let filter = g.add(.init(name: name + "/weights", shape: [Int32(outputs), 1, 1, Int32(inputs)], type: .int8,
                                 data: bytes(weights), quantization: perChannel(scales, dimension: 0)))
        let convolved = g.add(.init(name: name + "/conv", shape: [1, 1, 1, Int32(outputs)], type: .int8, data: nil,
                                    quantization: quantization(outputGrid)))
        g.operators.append(.init(code: .conv2d, inputs: [image, filter, bias], outputs: [convolved], options: .conv2d(
            padding: .valid, strideW: 1, strideH: 1, activation: activation, dilationW: 1, dilationH: 1)))
        reshape(&g, convolved, into: output, shape: [1, Int32(outputs)], name: name)
    }

    // MARK: Pieces

    static func imageShape(_ shape: [Int]) -> [Int32] {
        shape.count == 3 ? [1] + shape.map { Int32($0) } : [1, Int32(shape.reduce(1, *))]
    }

    static func quantization(_ grid: QuantizationParameters) -> TFLiteGraph.Quantization {
        .init(scales: [grid.scale], zeroPoints: [Int64(grid.zeroPoint)])
    }

    static func perChannel(_ scales: [Float], dimension: Int32) -> TFLiteGraph.Quantization {
        .init(scales: scales, zeroPoints: [Int64](repeating: 0, count: scales.count), dimension: dimension)
    }

    /// An int32 bias on the accumulator scales sIn·sW[c] (zero point 0), as TFLite's quantizer writes it.
    static func biasTensor(_ bias: [Int32], weightScales: [Float], input: QuantizationParameters, name: String) -> TFLiteGraph.Tensor {
        .init(name: name, shape: [Int32(bias.count)], type: .int32, data: bytes(bias),
              quantization: perChannel(weightScales.map { Float(Double(input.scale) * Double($0)) }, dimension: 0))
    }

    /// A new tensor `name` of `shape` on `grid`, RESHAPEd from `input`.
    static func reshape(_ g: inout TFLiteGraph, _ input: Int32, to shape: [Int32], name: String, grid: QuantizationParameters) -> Int32 {
        let output = g.add(.init(name: name, shape: shape, type: .int8, data: nil, quantization: quantization(grid)))
        reshape(&g, input, into: output, shape: shape, name: name)
        return output
    }

    /// RESHAPE of `input` into the existing tensor `output` (the shape as a constant input, which
    /// XNNPACK wants, and as the options' new_shape).
    static func reshape(_ g: inout TFLiteGraph, _ input: Int32, into output: Int32, shape: [Int32], name: String) {
        let shapeTensor = g.add(.init(name: name + "/shape", shape: [Int32(shape.count)], type: .int32, data: bytes(shape), quantization: nil))
        g.operators.append(.init(code: .reshape, inputs: [input, shapeTensor], outputs: [output], options: .reshape(newShape: shape)))
    }

    static func bytes(_ values: [Int8]) -> [UInt8] { values.map { UInt8(bitPattern: $0) } }

    static func bytes(_ values: [Int32]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * $0)) } }
    }

    /// TFLite's `CalculateActivationRangeQuantized` for an int8 output on `grid`: its quantize of
    /// 0 and 6 is `zero_point + round(f / scale)` in float, halves away from zero.
    static func activationRange(_ activation: TFLiteGraph.Activation, _ grid: QuantizationParameters) -> (Int32, Int32) {
        func quantize(_ f: Float) -> Int32 {
            let steps = (f / grid.scale).rounded(.toNearestOrAwayFromZero)
            return grid.zeroPoint + Int32(Swift.max(Swift.min(steps, 1e6), -1e6))
        }
        switch activation {
        case .none: return (-128, 127)
        case .relu: return (Swift.max(-128, quantize(0)), 127)
        case .relu6: return (Swift.max(-128, quantize(0)), Swift.min(127, quantize(6)))
        }
    }

    /// The fused activation whose clamp on `grid` is [minimum, maximum].
    static func fusedActivation(minimum: Int32, maximum: Int32, grid: QuantizationParameters, layer: String) throws -> TFLiteGraph.Activation {
        for a in [TFLiteGraph.Activation.none, .relu, .relu6] where activationRange(a, grid) == (minimum, maximum) { return a }
        throw ExportError.unsupportedFormat("tflite", reason: "layer \(layer) clamps its output to [\(minimum), \(maximum)], which no TFLite fused activation (none, relu, relu6) gives on its grid")
    }

    /// Checks that LiteRT's per-channel multipliers (`QuantizeMultiplier` of sIn·sW[c] / sOut in
    /// double, from the float scales in the file) are the integer model's.
    static func checkMultipliers(_ multipliers: [FixedPoint.Multiplier], scales: [Float], input: QuantizationParameters,
                                 output: QuantizationParameters, layer: String) throws {
        for (c, m) in multipliers.enumerated() {
            let theirs = FixedPoint.quantizeMultiplier(Double(input.scale) * Double(scales[c]) / Double(output.scale))
            guard theirs == m else {
                throw ExportError.unsupportedFormat("tflite", reason: "layer \(layer) channel \(c): LiteRT would derive the multiplier \(theirs.map { "\($0)" } ?? "none") from the scales, not \(m)")
            }
        }
    }

    /// The scales of global average pooling's all-ones depthwise kernel and of its output, from
    /// which LiteRT derives exactly nanoforge's multiplier sIn/(pixels·sOut): 1/pixels and sOut
    /// when they do (always for a power-of-two pixel count), else the nearest float32 pair that does
    /// (a few ulps away: the pooled codes are then the same numbers on a grid 1e-7 apart).
    static func poolingScales(pixels: Int, multiplier: FixedPoint.Multiplier, input: QuantizationParameters,
                              output: QuantizationParameters, layer: String) throws -> (weight: Float, pooled: Float) {
        func neighbours(_ x: Float, _ n: Int) -> [Float] {
            var (up, down, all) = (x, x, [x])
            for _ in 0..<n { up = up.nextUp; down = down.nextDown; all += [up, down] }
            return all                                   // nearest first
        }
        let weights = neighbours(Float(1.0 / Double(pixels)), 32), pooled = neighbours(output.scale, 32)
        var best: (distance: Int, weight: Float, pooled: Float)?
        for (i, w) in weights.enumerated() {
            for (j, p) in pooled.enumerated() where FixedPoint.quantizeMultiplier(Double(input.scale) * Double(w) / Double(p)) == multiplier {
                if best == nil || i + j < best!.distance { best = (i + j, w, p) }
            }
        }
        guard let best else {
            throw ExportError.unsupportedFormat("tflite", reason: "layer \(layer): no float32 scales near 1/\(pixels) and the output's give LiteRT nanoforge's pooling multiplier \(multiplier)")
        }
        return (best.weight, best.pooled)
    }

    /// SAME or VALID, whichever gives the window's output size and leading padding (TFLite's
    /// `ComputePaddingHeightWidth`, as Keras's `same` and `valid`).
    static func padding(_ w: IntegerKernels.Window, layer: String) throws -> TFLiteGraph.Padding {
        func size(_ n: Int, _ k: Int, _ s: Int, _ d: Int, same: Bool) -> [Int] {
            let effective = (k - 1) * d + 1
            let out = same ? (n + s - 1) / s : (n - effective + s) / s
            return [out, Swift.max((out - 1) * s + effective - n, 0) / 2]
        }
        for p in [TFLiteGraph.Padding.valid, .same] {
            if size(w.inHeight, w.kernelHeight, w.strideHeight, w.dilationHeight, same: p == .same) == [w.outHeight, w.padTop],
               size(w.inWidth, w.kernelWidth, w.strideWidth, w.dilationWidth, same: p == .same) == [w.outWidth, w.padLeft] {
                return p
            }
        }
        throw ExportError.unsupportedFormat("tflite", reason: "layer \(layer): padding \(w.padTop), \(w.padLeft) to \(w.outHeight)×\(w.outWidth) is neither SAME nor VALID")
    }
}
