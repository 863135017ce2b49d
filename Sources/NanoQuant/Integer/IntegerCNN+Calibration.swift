import NanoModels
import NanoTensor

extension IntegerCNN {
    /// Quantizes `model` (BatchNormalization folded first) with activation ranges measured on
    /// `features` (NHWC images as rows). `file` names the model in errors. Throws
    /// `CExportError.unsupportedLayer` for a layer the integer kernels do not run. With
    /// `percentile` p, each tensor's range is clipped to its (100 − p)-th and p-th percentiles
    /// (of at most 65,536 evenly spaced values per batch) instead of its min and max.
    /// `rounding` chooses each convolution's int8 codes from its calibration inputs (nil: round
    /// to nearest); the activation grids come from the float model's ranges either way, except
    /// the tensors `grids` names (by `ActivationTensor.name`), which take the grid given there
    /// (QAT's learned grids). A tensor that keeps its input's grid (max pool, clamp) follows its input.
    public init(calibrating model: KerasGraphModel, features: [[Float]], file: String, percentile: Double? = nil,
                rounding: WeightRounding? = nil, grids: [String: QuantizationParameters] = [:]) throws {
        let (folded, folds) = KerasBatchNormFolding.fold(model)
        var builder = try IntegerCNNBuilder(folded, file: file)
        try builder.calibrate(features, percentile: percentile)
        builder.rounding = rounding
        builder.grids = grids
        self = try builder.build()
        self.folds = folds.map { "\($0.batchNormalization) → \($0.into)" }
        self.activationPercentile = percentile
    }
}

/// Plans the integer graph of a folded Keras model, measures its ranges, then quantizes it.
struct IntegerCNNBuilder {
    let model: KerasGraphModel
    let file: String
    let shapes: [String: [Int]]
    let modules: [String: ParameterContainer]
    /// Layers whose output is the tensor of another layer: an activation fused into the
    /// convolution before it, a flatten, a dropout, the final softmax (left out).
    var aliasOf: [String: String] = [:]
    /// Convolutions whose output is clamped by a fused activation layer: conv → activation layer.
    var fusedActivation: [String: KerasLayer] = [:]
    /// Observed (min, max) by layer name, and `<separable>/depthwise` for a separable's middle.
    var ranges: [String: (min: Float, max: Float)] = [:]
    /// The calibration images (NHWC rows), kept for `rounding`.
    var calibrationImages: [[Float]] = []
    /// How convolutions' codes are chosen (nil: RTN).
    var rounding: IntegerCNN.WeightRounding?
    /// Grids given instead of calibrated ones, by tensor name.
    var grids: [String: QuantizationParameters] = [:]

    init(_ model: KerasGraphModel, file: String) throws {
        self.model = model
        self.file = file
        let c = model.configuration
        shapes = try KerasGraphShapes.infer(c, file: file)
        modules = Dictionary(model.modules, uniquingKeysWith: { a, _ in a })
        var readers: [String: [KerasLayer]] = [:]
        for layer in c.layers { for input in layer.inputs { readers[input, default: []].append(layer) } }
        for layer in c.layers {
            let isOutput = layer.name == c.output
            let activation = isOutput && layer.activation == .softmax ? nil : layer.activation
            func refuse(_ reason: String) -> CExportError {
                CExportError.unsupportedLayer(layer: layer.name, kind: layer.kind.kerasClass, file: file, reason: reason)
            }
            switch layer.kind {
            case .input, .maxPool2d, .globalAvgPool2d:
                break
            case .conv2d, .depthwiseConv2d, .separableConv2d, .dense:
                if let activation, ![.linear, .relu, .relu6].contains(activation) {
                    throw refuse("activation '\(activation.rawValue)' has no integer form (relu and relu6 do)")
                }
                if layer.kind == .dense, (shapes[layer.inputs[0]] ?? []).count != 1 {
                    throw refuse("a Dense layer on a tensor of rank > 1 has no integer kernel (flatten first)")
                }
                // conv → Activation(relu / relu6), the activation its only reader: one op with a clamp.
                if activation == nil || activation == .linear, !isOutput, let next = readers[layer.name], next.count == 1,
                   next[0].kind == .activation, let a = next[0].activation, a == .relu || a == .relu6, next[0].name != c.output {
                    fusedActivation[layer.name] = next[0]
                    aliasOf[next[0].name] = layer.name
                }
            case .activation:
                if aliasOf[layer.name] != nil { continue }
                switch activation {
                case nil, .linear?: aliasOf[layer.name] = layer.inputs[0]
                case .relu?, .relu6?: break
                case let other?: throw refuse("activation '\(other.rawValue)' has no integer form (relu and relu6 do; a final softmax stays outside)")
                }
            case .flatten, .dropout:
                aliasOf[layer.name] = layer.inputs[0]
            case .add:
                if layer.inputs.count != 2 { throw refuse("an Add of \(layer.inputs.count) inputs (the integer Add takes two)") }
                if let activation, activation != .linear { throw refuse("activation '\(activation.rawValue)' on an Add") }
            case .batchNormalization:
                throw refuse("it does not follow a convolution or Dense layer that nothing else reads, so it cannot be folded")
            case .avgPool2d, .concatenate:
                throw refuse("the integer kernels have no \(layer.kind.kerasClass)")
            }
        }
    }

    /// The layer whose tensor `name`'s output is.
    func resolve(_ name: String) -> String {
        var n = name
        while let a = aliasOf[n] { n = a }
        return n
    }

    /// Runs the float model on the images and records every tensor's range.
    mutating func calibrate(_ features: [[Float]], percentile: Double? = nil) throws {
        let c = model.configuration
        let width = c.inputShape.reduce(1, *)
        guard !features.isEmpty else { throw CExportError.invalidCalibration(reason: "no calibration rows") }
        for (r, row) in features.enumerated() {
            guard row.count == width else {
                throw CExportError.invalidCalibration(reason: "row \(r + 1) has \(row.count) values, the model takes \(width) (\(c.inputShape.map(String.init).joined(separator: "×")))")
            }
            guard row.allSatisfy(\.isFinite) else { throw CExportError.invalidCalibration(reason: "row \(r + 1) holds a value that is not finite") }
        }
        calibrationImages = features
        var samples: [String: [Float]] = [:]
        func observe(_ name: String, _ t: NanoTensor.Tensor) {
            let s = t.scalars
            let r = (min: s.min() ?? 0, max: s.max() ?? 0)
            ranges[name] = ranges[name].map { (Swift.min($0.min, r.min), Swift.max($0.max, r.max)) } ?? r
            if percentile != nil {
                let step = Swift.max(1, s.count / 65_536)
                samples[name, default: []] += stride(from: 0, to: s.count, by: step).map { s[$0] }
            }
        }
        let batch = 8
        for start in stride(from: 0, to: features.count, by: batch) {
            let rows = features[start..<Swift.min(start + batch, features.count)]
            let x = Variable(NanoTensor.Tensor(shape: [rows.count] + c.inputShape, scalars: rows.flatMap { $0 }))
            let tape = Tape(recording: false)
            let values = model.outputs(x, tape: tape, logits: true)
            for layer in c.layers {
                guard let v = values[layer.name] else { continue }
                observe(layer.name, v.value)
                if layer.kind == .separableConv2d, let dw = modules[layer.name] as? DepthwiseConv2D, let input = values[layer.inputs[0]] {
                    observe(layer.name + "/depthwise", tape.depthwiseConv2d(input, kernel: dw.depthwiseKernel, geometry: dw.geometry).value)
                }
            }
        }
        for (name, r) in ranges where !r.min.isFinite || !r.max.isFinite {
            throw CExportError.invalidCalibration(reason: "layer \(name) produced values that are not finite on the calibration rows")
        }
        if let percentile {
            for (name, values) in samples where !values.isEmpty {
                let sorted = values.sorted(), n = sorted.count
                let lo = sorted[Swift.min(n - 1, Int((1 - percentile / 100) * Double(n)))]
                let hi = sorted[Swift.max(0, Int((percentile / 100 * Double(n)).rounded(.up)) - 1)]
                ranges[name] = (lo, hi)
            }
        }
    }
}
