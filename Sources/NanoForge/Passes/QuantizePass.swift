import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor
import Yams

/// The `quantize` pass: post-training weight quantization (RTN or GPTQ) of the selected Linear
/// layers and embedding tables, optionally with int8 activation quantization, static
/// (calibrated) or dynamic (per token). Its settings decode straight into the quantizers' own
/// types (`QuantizationScheme.Granularity`, `Observer`, `ScaleFormat`). With `ggml_type`, the
/// weights are held in that ggml block format instead (`QuantizePass+GGML.swift`).
public struct QuantizePass: CompressionPass {
    /// Rounding method.
    public enum Method: String, RecipeChoice { case rtn, gptq }

    /// GPTQ's own settings (Frantar et al., 2022).
    public struct GPTQSettings: Equatable {
        /// Dampening added to the Hessian diagonal, as a fraction of its mean.
        public var damping: Double = 0.01
        /// Columns processed per block of lazy error compensation.
        public var blockSize: Int = 128
        /// Quantize columns in order of decreasing Hessian diagonal.
        public var actOrder: Bool = false
    }

    /// Activation quantization of Linear inputs.
    public struct Activations: Equatable {
        /// `static`: one scale and zero point per layer from calibration. `dynamic`: each token's
        /// features quantized at run time on their own symmetric grid (absmax / 127), as the
        /// runtime's int8 × int8 kernel computes exactly; needs no calibration data.
        public enum Mode: String, RecipeChoice { case `static`, dynamic }
        /// Always 8: activations are int8.
        public var bits: Int = 8
        /// Static only.
        public var observer: Observer = .minmax
        /// Static: asymmetric by default (inputs after GELU or ReLU are mostly positive).
        /// Dynamic: always symmetric.
        public var symmetric = false
        public var mode: Mode = .static
    }

    public var method: Method = .rtn
    /// GPTQ settings; nil for RTN.
    public var gptq: GPTQSettings?
    public var bits: Int = 8
    public var symmetric = true
    public var granularity: QuantizationScheme.Granularity = .channel
    public var observer: Observer = .minmax
    public var activations: Activations?
    public var scaleFormat: ScaleFormat = .float32
    /// A ggml block type (`GGUFBlockEncoder.encodable`): the weights' grid is that type's, in
    /// place of `bits` / `symmetric` / `granularity` / `scale_format` / `observer`.
    public var ggmlType: GGUFTensorType?
    /// The type for tensors whose rows `ggmlType`'s blocks do not tile; nil: llama.cpp's choice
    /// (`GGMLTypeFallback.llamaCppDefault`).
    public var fallbackType: GGUFTensorType?
    /// Where round to nearest into `ggmlType` takes per-column weights from (llama.cpp's imatrix).
    public enum Importance: String, RecipeChoice { case none, calibration }
    /// `calibration`: ggml's RTN weighted by Σx² of each input column over the calibration text,
    /// the bytes `llama-quantize --imatrix` writes from the same statistics.
    public var importance: Importance = .none
    public var selector: LayerSelector

    public init(selector: LayerSelector) { self.selector = selector }

    /// The group size used when `granularity: group` is given without `group_size`.
    public static let defaultGroupSize = 128

    public static let key = "quantize"
    public static let summary = "Post-training weight quantization (RTN or GPTQ), 2–8 bits, per tensor, channel or group; optional static int8 activations. On a Keras convolutional graph: full-integer int8, the C export's arithmetic (BatchNorm folded into the convolution before it, int8 weights per output channel, int8 activations per tensor calibrated on `data.calibration` by `activations.observer` minmax or percentile; `method` rtn or gptq; other settings are refused), and evaluation runs that integer model."
    public static let shapeEffect = ShapeEffect.keepsShapes
    public static let quantizesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var needsCalibration: Bool {
        method == .gptq || importance == .calibration || activations.map { $0.mode == .static } ?? false
    }

    /// The weight scheme the settings describe.
    public var scheme: QuantizationScheme { QuantizationScheme(bits: bits, symmetric: symmetric, granularity: granularity) }

    public static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "rtn", allowed: RecipeField.choices(Method.self),
                    "Round-to-nearest, or GPTQ's Hessian-based error compensation from calibration activations. On a Keras graph GPTQ rounds every convolution ([out, in·kh·kw]; depthwise: per channel) onto the integer model's int8 per-channel grid, its Hessian from the integer model's own inputs."),
        RecipeField("bits", "integer", default: "8", allowed: "2…8", "Weight bit width."),
        RecipeField("symmetric", "boolean", default: "true", allowed: "true | false",
                    "Symmetric (zero point 0) or asymmetric (with zero points) quantization."),
        RecipeField("granularity", "string", default: "channel", allowed: RecipeField.choices(granularityNames),
                    "One scale per tensor, per output channel, or per group of `group_size` weights; `group_size` alone implies `group`."),
        RecipeField("group_size", "integer", default: "128 with granularity group", allowed: "≥ 1",
                    "Weights per scale group along the input dimension; only with granularity `group` (or none given)."),
        RecipeField("observer", "string", default: "minmax", allowed: RecipeField.choices(Observer.recipeNames),
                    "How the weight range is chosen: min/max, a percentile of |w|, or a grid search for the clip ratio minimising the error."),
        RecipeField("percentile", "number", default: "99.9", allowed: "(0, 100]", "Percentile for observer `percentile` only."),
        RecipeField("damping", "number", default: "0.01", allowed: "(0, 1]", "GPTQ only: Hessian diagonal dampening, as a fraction of its mean."),
        RecipeField("block_size", "integer", default: "128", allowed: "≥ 1", "GPTQ only: columns per block of lazy updates."),
        RecipeField("act_order", "boolean", default: "false", allowed: "true | false",
                    "GPTQ only: quantize columns in order of decreasing activation energy."),
        RecipeField("activations", "mapping", allowed: "{mode: static | dynamic, bits: 8, observer, percentile, symmetric}",
                    "Int8 quantization of each selected Linear layer's input. `mode: static` (default): one scale and zero point per layer from the calibration data, by the given observer (default minmax; `symmetric` default false). `mode: dynamic`: per token, symmetric, scale = the token's absmax / 127 at run time, no calibration (the runtime's int8 × int8 kernel computes it exactly). Simulated in evaluation (fake quantization, the kernel's rounding), saved with the model and applied by the runtime. Without `activations` the runtime keeps float activations."),
        RecipeField("scale_format", "string", default: "f32", allowed: RecipeField.choices(ScaleFormat.recipeNames), "Storage type of scales."),
        RecipeField("ggml_type", "string", allowed: ggmlTypeNames.joined(separator: " | ") + " (any case)",
                    "Hold the weights in this ggml block format, the bytes a GGUF file stores: RTN is ggml's own round to nearest (`llama-quantize` without an imatrix), GPTQ chooses codes on exactly the block's grid (each block's scales from ggml's search on its error-compensated values). Replaces `bits`, `symmetric`, `granularity`, `group_size`, `scale_format`, `observer` (refused with it) and excludes `activations`. With `act_order`, blocks keep their parameters from the original weight."),
        RecipeField("fallback_type", "string", default: "llama.cpp's: q2_k, q3_k → q4_0; q4_k → q5_0; q5_k → q5_1; q6_k → q8_0",
                    allowed: GGMLTypeFallback.blockOf32Types.map { $0.name.lowercased() }.joined(separator: " | "),
                    "With `ggml_type` only: the type of a tensor whose rows are not whole blocks of `ggml_type` (a K-quant's 256 against a width of 576), as llama.cpp's `llama-quantize` falls back. Each fallback is logged, counted in the stage summary and shown in the report (the layer table's ggml type column and a note under it); a row that is not whole 32s fits no type and is an error naming the layer."),
        RecipeField("importance", "string", default: "none", allowed: RecipeField.choices(Importance.self),
                    "With `ggml_type` only: `calibration` weights ggml's block search by each input column's mean x² over the calibration data (llama.cpp's importance matrix). With method rtn that search is the whole rounding (the bytes `llama-quantize --imatrix` writes from the same statistics); with gptq it picks each block's scales from the error-compensated values, and GPTQ still picks the codes. Embedding tables, which have no calibration inputs, stay unweighted."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    // MARK: decoding

    public static func decode(_ node: RecipeNode) throws -> QuantizePass {
        let map = try node.mapping(fields)
        let method = try map.optional("method", default: Method.rtn) { try $0.choice(Method.self) }
        var pass = QuantizePass(selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]))
        pass.method = method
        pass.bits = try map.optional("bits", default: 8) { try $0.int(2...8) }
        pass.symmetric = try map.optional("symmetric", default: true) { try $0.bool() }
        pass.scaleFormat = try map.optional("scale_format", default: .float32) { try $0.choice(ScaleFormat.recipeNames) }
        pass.granularity = try decodeGranularity(map, neitherGiven: .channel)
        pass.observer = try Observer.decode(map, observerKey: "observer")

        let gptqKeys = ["damping", "block_size", "act_order"]
        if method == .gptq {
            var settings = GPTQSettings()
            settings.damping = try map.optional("damping", default: 0.01) { try $0.number(NumberRange(lower: 0, lowerInclusive: false, upper: 1)) }
            settings.blockSize = try map.optional("block_size", default: 128) { try $0.int(atLeast: 1) }
            settings.actOrder = try map.optional("act_order", default: false) { try $0.bool() }
            pass.gptq = settings
        } else if let key = gptqKeys.first(where: map.contains), let value = map.optional(key) {
            throw RecipeError.conflict(value.location, problem: "'\(key)' applies to method gptq only, but method is \(method.rawValue)",
                                       hint: "set method: gptq or remove '\(key)'")
        }

        if let activations = map.optional("activations") {
            let sub = try activations.mapping(keys: ["mode", "bits", "observer", "percentile", "symmetric"])
            var settings = Activations()
            settings.mode = try sub.optional("mode", default: Activations.Mode.static) { try $0.choice(Activations.Mode.self) }
            settings.bits = try sub.optional("bits", default: 8) { try $0.int(8...8) }
            if settings.mode == .dynamic {
                // Per token, symmetric: the grid Int8GEMM computes exactly; scales come from each token.
                if let key = ["observer", "percentile"].first(where: sub.contains), let value = sub.optional(key) {
                    throw RecipeError.conflict(value.location, problem: "'\(key)' applies to static activations, but mode is dynamic",
                                               hint: "dynamic activations take each token's absmax; remove '\(key)' or set mode: static")
                }
                if let value = sub.optional("symmetric"), try !value.bool() {
                    throw RecipeError.conflict(value.location, problem: "dynamic activations are symmetric (the int8 kernel's grid)",
                                               hint: "remove 'symmetric' or set mode: static")
                }
                settings.symmetric = true
            } else {
                settings.symmetric = try sub.optional("symmetric", default: false) { try $0.bool() }
                settings.observer = try Observer.decode(sub, observerKey: "observer")
            }
            pass.activations = settings
        }
        try decodeGGML(map, into: &pass)
        return pass
    }

    /// `granularity` and `group_size` (`group_size` alone implies groups); `neitherGiven` when both
    /// are absent (per channel for `quantize`, groups for `awq`).
    static func decodeGranularity(_ map: RecipeMapping, neitherGiven: QuantizationScheme.Granularity) throws -> QuantizationScheme.Granularity {
        let name = try map.optional("granularity").map { try $0.choice(granularityNames) }
        let groupSize = try map.optional("group_size").map { try $0.int(atLeast: 1) }
        switch (name, groupSize) {
        case (nil, nil): return neitherGiven
        case let (granularity?, nil): return granularity
        case let (nil, size?), let (.group?, size?): return .group(size)
        case let (other?, _?):
            let location = map.optional("group_size")?.location ?? map.owner.location
            throw RecipeError.conflict(location, problem: "group_size is set but granularity is \(other == .tensor ? "tensor" : "channel")",
                                       hint: "use granularity: group, or remove group_size")
        }
    }

    /// The recipe's granularity names; `group` alone takes ``defaultGroupSize``.
    static let granularityNames: [(name: String, value: QuantizationScheme.Granularity)] =
        [("tensor", .tensor), ("channel", .channel), ("group", .group(defaultGroupSize))]

    // MARK: encoding

    public func encode() -> Node {
        if ggmlType != nil { return encodeGGML() }
        return RecipeEncoding.mapping { e in
            e.set("method", method)
            e.set("bits", bits)
            e.set("symmetric", symmetric)
            switch granularity {
            case .tensor: e.set("granularity", "tensor")
            case .channel: e.set("granularity", "channel")
            case .group(let size): e.set("granularity", "group"); e.set("group_size", size)
            }
            observer.encode(into: &e, observerKey: "observer")
            if let gptq {
                e.set("damping", gptq.damping)
                e.set("block_size", gptq.blockSize)
                e.set("act_order", gptq.actOrder)
            }
            if let activations {
                e.set("activations", RecipeEncoding.mapping { a in
                    a.set("mode", activations.mode)
                    a.set("bits", activations.bits)
                    if activations.mode == .static {
                        activations.observer.encode(into: &a, observerKey: "observer")
                        a.set("symmetric", activations.symmetric)
                    }
                })
            }
            e.set("scale_format", scaleFormat.recipeName)
            SelectionFields.encode(selector, into: &e)
        }
    }

    // MARK: running

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        if let graph = state.model.as(KerasGraphModel.self) { return try runIntegerCNN(graph, on: state, context: context) }
        if let ggmlType { return try runGGML(ggmlType, on: state, context: context) }
        let label = context.label
        let weights = try context.selectedWeights(selector, in: state)
        let linears = weights.compactMap { w in w.linear.map { (name: w.name, layer: $0) } }
        let scheme = self.scheme
        var hessians: [String: HessianAccumulator] = [:]
        if let settings = gptq {
            hessians = try context.hessians(for: linears.map(\.name), in: state)
            context.log("\(label): Hessians from \(context.calibration.count) calibration inputs (damping \(settings.damping), block \(settings.blockSize), act_order \(settings.actOrder))")
        }
        // Embedding tables have no calibration inputs: they always get round-to-nearest.
        for (i, entry) in weights.enumerated() {
            let (name, w) = (entry.name, entry.weight.value)
            let q: QuantizedTensor
            do {
                if let settings = gptq, let h = hessians.removeValue(forKey: name) {
                    let config = GPTQ.Configuration(scheme: scheme, observer: observer, dampingFraction: settings.damping,
                                                    blockSize: settings.blockSize, activationOrder: settings.actOrder, scaleFormat: scaleFormat)
                    q = try GPTQ.quantize(w, hessian: h, configuration: config)
                } else {
                    q = try RTN.quantize(w, scheme: scheme, observer: observer, scaleFormat: scaleFormat)
                }
            } catch {
                throw context.failure("layer \(name): \(error)")
            }
            let dq = q.dequantized()
            state.weightErrors[name] = PassContext.relativeError(w, dq)
            entry.weight.value = dq
            state.quantized[name] = q
            state.ggmlQuantized[name] = nil
            if (i + 1) % 12 == 0 || i + 1 == weights.count { context.log("\(label): \(i + 1)/\(weights.count) layers") }
        }
        var summary = "\(method.rawValue) \(scheme) on \(weights.count) layers"
        if let settings = activations {
            if settings.mode == .dynamic {
                for (name, layer) in linears {
                    let aq = ActivationQuantization.dynamicPerToken(bits: settings.bits)
                    aq.install(on: layer)
                    state.activationQuantization[name] = aq
                }
                summary += ", int\(settings.bits) dynamic per-token activations"
            } else {
                try Self.quantizeActivations(settings, layers: linears, state, context)
                summary += ", int\(settings.bits) activations (\(settings.observer.recipeDescription))"
            }
        }
        return summary
    }

    /// Static activation quantization: one observer per selected layer over the calibration
    /// inputs (with the weights already quantized), then the fake quantization installed.
    static func quantizeActivations(_ settings: Activations, layers: [(name: String, layer: Linear)],
                                    _ state: CompressionState, _ context: PassContext) throws {
        let observers = try context.inputObservers(for: layers.map(\.name), observer: settings.observer, in: state)
        for (name, layer) in layers {
            guard let observer = observers[name], observer.sampleCount > 0 else {
                throw context.failure("layer \(name) saw no calibration input (it is not on the forward path)", at: ".activations")
            }
            let aq = ActivationQuantization(parameters: observer.parameters(bits: settings.bits, symmetric: settings.symmetric),
                                            bits: settings.bits, symmetric: settings.symmetric)
            aq.install(on: layer)
            state.activationQuantization[name] = aq
        }
        context.log("\(context.label): int\(settings.bits) activation scales for \(layers.count) layers from \(context.calibration.count) calibration inputs")
    }
}

// Recipe spellings of the quantizers' own types.

extension ScaleFormat {
    /// `f16` and `f32`, as recipes write them.
    static let recipeNames: [(name: String, value: ScaleFormat)] = [("f16", .float16), ("f32", .float32)]

    var recipeName: String { self == .float16 ? "f16" : "f32" }
}

extension Observer {
    /// The observer names recipes accept; `percentile` takes its value from the `percentile` key.
    static let recipeNames: [(name: String, value: String)] = ["minmax", "percentile", "mse"].map { ($0, $0) }

    /// The observer as the summary line prints it (`minmax`, `percentile(99.9)`, `mse`).
    var recipeDescription: String {
        switch self {
        case .minmax: return "minmax"
        case .mse: return "mse"
        case .percentile(let p): return "percentile(\(p))"
        }
    }

    /// Decodes `observer` and its `percentile` from a mapping that declares both keys.
    static func decode(_ map: RecipeMapping, observerKey: String) throws -> Observer {
        let name = try map.optional(observerKey, default: "minmax") { try $0.choice(recipeNames) }
        let percentile = try map.optional("percentile").map { try $0.number(NumberRange(lower: 0, lowerInclusive: false, upper: 100)) }
        if name == "percentile" { return .percentile(percentile ?? 99.9) }
        if percentile != nil, let value = map.optional("percentile") {
            throw RecipeError.conflict(value.location, problem: "percentile is set but observer is \(name)",
                                       hint: "set observer: percentile, or remove percentile")
        }
        return name == "mse" ? .mse : .minmax
    }

    /// Writes `observer` (and `percentile` for the percentile observer).
    func encode(into encoding: inout RecipeEncoding, observerKey: String) {
        switch self {
        case .minmax: encoding.set(observerKey, "minmax")
        case .mse: encoding.set(observerKey, "mse")
        case .percentile(let p): encoding.set(observerKey, "percentile"); encoding.set("percentile", p)
        }
    }
}
