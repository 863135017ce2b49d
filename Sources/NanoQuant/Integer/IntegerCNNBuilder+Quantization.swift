import NanoModels
import NanoTensor

extension IntegerCNNBuilder {
    /// The integer graph: one tensor per produced value, operations in layer order.
    func build() throws -> IntegerCNN {
        let c = model.configuration
        var tensors: [IntegerCNN.ActivationTensor] = []
        var index: [String: Int] = [:]
        var operations: [IntegerCNN.Operation] = []

        // `range`: the layer whose calibrated range sets the grid; `tensor`: the tensor's name
        // (they differ for a convolution with a fused activation), for `grids`.
        func grid(_ range: String, tensor: String? = nil) throws -> QuantizationParameters {
            if let g = grids[tensor ?? range] { return g }
            let name = range
            guard let r = ranges[name] else {
                throw CExportError.invalidCalibration(reason: "layer \(name) was not reached by the calibration run")
            }
            return FixedPoint.int8Grid(min: r.min, max: r.max)
        }
        func add(_ name: String, shape: [Int], grid: QuantizationParameters) -> Int {
            tensors.append(.init(name: name, shape: shape, grid: grid))
            return tensors.count - 1
        }
        func tensor(_ layer: String) -> Int { index[resolve(layer)]! }

        // With a `rounding`, a convolution reads its inputs as the integer model built so far
        // computes them on the calibration images (dequantized): operations run as they are added.
        var values: [[[Int8]]] = [], evaluated = 0
        func calibrationInputs(_ t: Int) -> [[Float]] {
            let partial = IntegerCNN(tensors: tensors, operations: operations, input: 0, output: 0, folds: [])
            if values.isEmpty { values = calibrationImages.map { [partial.quantizeInput($0)] } }
            for i in values.indices {
                values[i] += [[Int8]](repeating: [], count: tensors.count - values[i].count)
                for op in operations[evaluated...] { partial.apply(op, to: &values[i]) }
            }
            evaluated = operations.count
            let g = tensors[t].grid
            return values.map { $0[t].map { QuantizationNumerics.dequantize(Int32($0), g) } }
        }

        for layer in c.layers {
            if aliasOf[layer.name] != nil { continue }
            let shape = shapes[layer.name] ?? []
            let input = layer.inputs.first.map(tensor)
            switch layer.kind {
            case .input:
                index[layer.name] = add(layer.name, shape: shape, grid: try grid(layer.name))
            case .conv2d, .depthwiseConv2d, .separableConv2d, .dense:
                let x = input!
                // The clamp: a fused activation layer's, else the layer's own.
                let fused = fusedActivation[layer.name]
                let activation = fused?.activation ?? (layer.name == c.output ? nil : layer.activation)
                let outGrid = try grid(fused?.name ?? layer.name, tensor: layer.name)
                var source = x
                if layer.kind == .separableConv2d, let dw = modules[layer.name] as? DepthwiseConv2D {
                    let middle = layer.name + "/depthwise"
                    let mid = add(middle, shape: Array(shape.dropLast()) + [dw.depthwiseKernel.shape[2] * dw.depthwiseKernel.shape[3]],
                                  grid: try grid(middle))
                    let conv = try convolution(name: middle, module: dw, depthwiseOnly: true, input: tensors[x], output: tensors[mid], activation: nil,
                                               calibrationInputs: { calibrationInputs(x) })
                    operations.append(.init(layer: layer.name, kind: .convolution(conv), inputs: [x], output: mid))
                    source = mid
                }
                let y = add(layer.name, shape: shape, grid: outGrid)
                let conv = try convolution(name: layer.name, module: modules[layer.name], depthwiseOnly: layer.kind == .depthwiseConv2d,
                                           input: tensors[source], output: tensors[y], activation: activation,
                                           calibrationInputs: { calibrationInputs(source) })
                operations.append(.init(layer: layer.name, kind: .convolution(conv), inputs: [source], output: y))
                index[layer.name] = y
            case .activation:
                // relu / relu6 on its input's grid (others were refused or aliased).
                let x = input!, g = tensors[x].grid
                let (lo, hi) = Self.clampRange(layer.activation, g)
                let y = add(layer.name, shape: shape, grid: g)
                operations.append(.init(layer: layer.name, kind: .clamp(minimum: lo, maximum: hi), inputs: [x], output: y))
                index[layer.name] = y
            case .maxPool2d:
                let x = input!
                let y = add(layer.name, shape: shape, grid: tensors[x].grid)
                operations.append(.init(layer: layer.name, kind: .maxPool(Self.window(layer.geometry, tensors[x].shape, shape)), inputs: [x], output: y))
                index[layer.name] = y
            case .globalAvgPool2d:
                let x = input!
                let y = add(layer.name, shape: shape, grid: try grid(layer.name))
                let pixels = tensors[x].count / Swift.max(1, tensors[y].count)
                let m = Double(tensors[x].grid.scale) / (Double(tensors[y].grid.scale) * Double(pixels))
                operations.append(.init(layer: layer.name, kind: .globalAveragePool(try multiplier(m, layer.name, 0)), inputs: [x], output: y))
                index[layer.name] = y
            case .add:
                let a = tensor(layer.inputs[0]), b = tensor(layer.inputs[1])
                let y = add(layer.name, shape: shape, grid: try grid(layer.name))
                // TFLite's int8 Add: inputs to the scale 2·max(sA, sB) at 2^20, the sum onto sY.
                let sa = Double(tensors[a].grid.scale), sb = Double(tensors[b].grid.scale), sy = Double(tensors[y].grid.scale)
                let twiceMax = 2 * Swift.max(sa, sb)
                let kind = IntegerCNN.Kind.add(a: try multiplier(sa / twiceMax, layer.name, 0), b: try multiplier(sb / twiceMax, layer.name, 1),
                                               output: try multiplier(twiceMax / (Double(1 << IntegerKernels.addLeftShift) * sy), layer.name, 2),
                                               minimum: -128, maximum: 127)
                operations.append(.init(layer: layer.name, kind: kind, inputs: [a, b], output: y))
                index[layer.name] = y
            case .flatten, .dropout, .batchNormalization, .avgPool2d, .concatenate:
                break    // aliased, or refused by init
            }
        }
        return IntegerCNN(tensors: tensors, operations: operations, input: index[c.layers[0].name]!, output: tensor(c.output), folds: [])
    }

    func multiplier(_ m: Double, _ layer: String, _ channel: Int) throws -> FixedPoint.Multiplier {
        guard let q = FixedPoint.quantizeMultiplier(m) else { throw CExportError.multiplierOutOfRange(layer: layer, channel: channel, value: m) }
        return q
    }

    /// relu: [zero point, 127]; relu6: up to the code of 6; none: the whole int8 range.
    static func clampRange(_ activation: KerasActivation?, _ g: QuantizationParameters) -> (Int32, Int32) {
        switch activation {
        case .relu?: return (Swift.max(g.zeroPoint, -128), 127)
        case .relu6?: return (Swift.max(g.zeroPoint, -128), Int32(FixedPoint.quantizeInput(6, g)))
        default: return (-128, 127)
        }
    }

    /// The kernel window of `geometry` from a [h, w, c] input to a [h, w, c] (or [c]) output.
    static func window(_ geometry: Conv2DGeometry, _ input: [Int], _ output: [Int]) -> IntegerKernels.Window {
        let (inH, inW, inC) = input.count == 3 ? (input[0], input[1], input[2]) : (1, 1, input[0])
        let (outH, outW, outC) = output.count == 3 ? (output[0], output[1], output[2]) : (1, 1, output[0])
        let rows = geometry.rows(inH), columns = geometry.columns(inW)
        return IntegerKernels.Window(inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC,
                                     kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth,
                                     strideHeight: geometry.strideHeight, strideWidth: geometry.strideWidth,
                                     dilationHeight: geometry.dilationHeight, dilationWidth: geometry.dilationWidth,
                                     padTop: rows.padBefore, padLeft: columns.padBefore)
    }

    /// A convolution's int8 weights [out, taps·in] (symmetric per output channel, by `rounding`
    /// from its `calibrationInputs`, else `RTN`), int32 biases and multipliers, with every
    /// channel's accumulator bound checked against int32.
    func convolution(name: String, module: ParameterContainer?, depthwiseOnly: Bool, input: IntegerCNN.ActivationTensor,
                     output: IntegerCNN.ActivationTensor, activation: KerasActivation?,
                     calibrationInputs: () -> [[Float]]) throws -> IntegerCNN.Convolution {
        var rows: NanoTensor.Tensor, bias: [Float]?, geometry = Conv2DGeometry(kernel: (1, 1)), depthMultiplier = 0
        switch module {
        case let conv as Conv2D:
            // [kh, kw, in, out] → [out][kh·kw·in]
            let k = conv.kernel.value, out = k.shape[3], inner = k.count / out
            rows = NanoTensor.Tensor(shape: [out, inner]) { i in k.scalars[(i % inner) * out + i / inner] }
            bias = conv.bias?.value.scalars; geometry = conv.geometry
        case let dw as DepthwiseConv2D where depthwiseOnly || dw.pointwiseKernel == nil:
            // [kh, kw, C, M] → [C·M][kh·kw]; a separable's bias belongs to its pointwise half.
            let k = dw.depthwiseKernel.value, cm = k.shape[2] * k.shape[3], taps = k.count / cm
            rows = NanoTensor.Tensor(shape: [cm, taps]) { i in k.scalars[(i % taps) * cm + i / taps] }
            bias = dw.pointwiseKernel == nil ? dw.bias?.value.scalars : nil
            geometry = dw.geometry; depthMultiplier = k.shape[3]
        case let dw as DepthwiseConv2D:
            // pointwise [1, 1, C·M, out] → [out][C·M]
            let k = dw.pointwiseKernel!.value, out = k.shape[3], inner = k.shape[2]
            rows = NanoTensor.Tensor(shape: [out, inner]) { i in k.scalars[(i % inner) * out + i / inner] }
            bias = dw.bias?.value.scalars
        case let dense as Linear:
            rows = dense.weight.value; bias = dense.bias?.value.scalars
        default:
            throw CExportError.unsupportedLayer(layer: name, kind: String(describing: module.map { type(of: $0) }), file: file,
                                                reason: "the layer holds no convolution or Dense weights")
        }
        let window = Self.window(geometry, input.shape, output.shape)
        let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
        let q: QuantizedTensor
        if let rounding {
            q = try rounding(IntegerCNN.WeightRoundingProblem(layer: name, weights: rows, depthMultiplier: depthMultiplier,
                                                              window: window, inputs: calibrationInputs()))
            guard q.shape == rows.shape, q.scheme == scheme, q.zeroPoints == nil else {
                throw CExportError.invalidCalibration(reason: "layer \(name): the weight rounding returned \(q.shape) \(q.scheme), "
                                                      + "not \(rows.shape) int8 symmetric per channel")
            }
        } else {
            q = try RTN.quantize(rows, scheme: scheme)
        }
        var codes = q.codes().map { Int8($0) }, scales = q.scales
        let (outputs, inner) = (rows.shape[0], rows.shape[1])
        // A channel whose weights are tiny beside its bias (a dead channel after BatchNorm
        // folding: γ ≈ 0, β ≠ 0) would need a bias past int32 on sIn·sW: its weight scale is raised
        // until the bias fits in 2^30, and its weights re-rounded on that coarser grid.
        for o in 0..<outputs {
            let needed = Float(abs(Double(bias?[o] ?? 0)) / (Double(input.grid.scale) * Double(1 << 30)))
            guard needed > scales[o] else { continue }
            scales[o] = needed
            let grid = QuantizationParameters(scale: needed, zeroPoint: 0)
            for i in 0..<inner { codes[o * inner + i] = Int8(QuantizationNumerics.quantize(rows.scalars[o * inner + i], grid, qmin: -127, qmax: 127)) }
        }
        let maxInput = UInt64(Swift.max(abs(-128 - input.grid.zeroPoint), abs(127 - input.grid.zeroPoint)))
        var biasQ = [Int32](repeating: 0, count: outputs), multipliers: [FixedPoint.Multiplier] = []
        for o in 0..<outputs {
            let accumulatorScale = Double(input.grid.scale) * Double(scales[o])
            let b = (Double(bias?[o] ?? 0) / accumulatorScale).rounded(.toNearestOrEven)
            biasQ[o] = b.isFinite ? Int32(Swift.min(Swift.max(b, Double(Int32.min)), Double(Int32.max))) : 0
            multipliers.append(try multiplier(accumulatorScale / Double(output.grid.scale), name, o))
            var bound = UInt64(Int64(biasQ[o]).magnitude)
            for i in 0..<inner { bound += maxInput * UInt64(abs(Int(codes[o * inner + i]))) }
            guard bound <= UInt64(Int32.max) else { throw CExportError.accumulatorOverflow(layer: name, channel: o, bound: Int64(bound)) }
        }
        let (lo, hi) = Self.clampRange(activation, output.grid)
        var difference = 0.0, norm = 0.0
        for i in 0..<(outputs * inner) {
            let w = Double(rows.scalars[i]), d = w - Double(codes[i]) * Double(scales[i / inner])
            difference += d * d; norm += w * w
        }
        return IntegerCNN.Convolution(window: window, weights: codes, weightScales: scales,
                                      bias: biasQ, multipliers: multipliers, depthMultiplier: depthMultiplier,
                                      activationMinimum: lo, activationMaximum: hi,
                                      relativeWeightError: norm > 0 ? (difference / norm).squareRoot() : 0)
    }
}
