import NanoQuant
/// Options of the `quantize` pass: post-training weight quantization (RTN or GPTQ), optionally
/// with int8 activation quantization, static (calibrated) or dynamic (per token).
public struct QuantizeOptions: Equatable {
    /// Rounding method.
    public enum Method: String, RecipeChoice { case rtn, gptq }
    /// Scale granularity as written in the recipe.
    public enum GranularityName: String, RecipeChoice { case tensor, channel, group }
    /// How scales are chosen from observed values.
    public enum ObserverName: String, RecipeChoice { case minmax, percentile, mse }
    /// Storage type of scales.
    public enum ScaleFormat: String, RecipeChoice { case f16, f32 }

    /// One scale per tensor, per output channel, or per group of `size` input weights in a channel.
    public enum Granularity: Equatable {
        case tensor, channel
        case group(size: Int)
    }

    /// A scale observer; `percentile` clips at the given percentile of |x| (0 < p ≤ 100).
    public enum Observer: Equatable {
        case minmax, mse
        case percentile(Double)
    }

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
    public var granularity: Granularity = .channel
    public var observer: Observer = .minmax
    public var activations: Activations?
    public var scaleFormat: ScaleFormat = .f32
    public var selector: LayerSelector

    /// The group size used when `granularity: group` is given without `group_size`.
    public static let defaultGroupSize = 128

    static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "rtn", allowed: RecipeField.choices(Method.self),
                    "Round-to-nearest, or GPTQ's Hessian-based error compensation from calibration activations."),
        RecipeField("bits", "integer", default: "8", allowed: "2…8", "Weight bit width."),
        RecipeField("symmetric", "boolean", default: "true", allowed: "true | false",
                    "Symmetric (zero point 0) or asymmetric (with zero points) quantization."),
        RecipeField("granularity", "string", default: "channel", allowed: RecipeField.choices(GranularityName.self),
                    "One scale per tensor, per output channel, or per group of `group_size` weights; `group_size` alone implies `group`."),
        RecipeField("group_size", "integer", default: "128 with granularity group", allowed: "≥ 1",
                    "Weights per scale group along the input dimension; only with granularity `group` (or none given)."),
        RecipeField("observer", "string", default: "minmax", allowed: RecipeField.choices(ObserverName.self),
                    "How the weight range is chosen: min/max, a percentile of |w|, or a grid search for the clip ratio minimising the error."),
        RecipeField("percentile", "number", default: "99.9", allowed: "(0, 100]", "Percentile for observer `percentile` only."),
        RecipeField("damping", "number", default: "0.01", allowed: "(0, 1]", "GPTQ only: Hessian diagonal dampening, as a fraction of its mean."),
        RecipeField("block_size", "integer", default: "128", allowed: "≥ 1", "GPTQ only: columns per block of lazy updates."),
        RecipeField("act_order", "boolean", default: "false", allowed: "true | false",
                    "GPTQ only: quantize columns in order of decreasing activation energy."),
        RecipeField("activations", "mapping", allowed: "{mode: static | dynamic, bits: 8, observer, percentile, symmetric}",
                    "Int8 quantization of each selected Linear layer's input. `mode: static` (default): one scale and zero point per layer from the calibration data, by the given observer (default minmax; `symmetric` default false). `mode: dynamic`: per token, symmetric, scale = the token's absmax / 127 at run time, no calibration (the runtime's int8 × int8 kernel computes it exactly). Simulated in evaluation (fake quantization, the kernel's rounding), saved with the model and applied by the runtime. Without `activations` the runtime keeps float activations."),
        RecipeField("scale_format", "string", default: "f32", allowed: RecipeField.choices(ScaleFormat.self), "Storage type of scales."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    /// Decodes and validates the options mapping.
    static func decode(_ node: RecipeNode) throws -> QuantizeOptions {
        let map = try node.mapping(fields)
        let method = try map.optional("method", default: Method.rtn) { try $0.choice(Method.self) }
        var options = QuantizeOptions(selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]))
        options.method = method
        options.bits = try map.optional("bits", default: 8) { try $0.int(2...8) }
        options.symmetric = try map.optional("symmetric", default: true) { try $0.bool() }
        options.scaleFormat = try map.optional("scale_format", default: .f32) { try $0.choice(ScaleFormat.self) }
        options.granularity = try decodeGranularity(map)
        options.observer = try decodeObserver(map, observerKey: "observer")

        let gptqKeys = ["damping", "block_size", "act_order"]
        if method == .gptq {
            var settings = GPTQSettings()
            settings.damping = try map.optional("damping", default: 0.01) { try $0.number(NumberRange(lower: 0, lowerInclusive: false, upper: 1)) }
            settings.blockSize = try map.optional("block_size", default: 128) { try $0.int(atLeast: 1) }
            settings.actOrder = try map.optional("act_order", default: false) { try $0.bool() }
            options.gptq = settings
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
                settings.observer = try decodeObserver(sub, observerKey: "observer")
            }
            options.activations = settings
        }
        return options
    }

    private static func decodeGranularity(_ map: RecipeMapping) throws -> Granularity {
        let name = try map.optional("granularity") .map { try $0.choice(GranularityName.self) }
        let groupSize = try map.optional("group_size").map { try $0.int(atLeast: 1) }
        switch (name, groupSize) {
        case (nil, nil): return .channel
        case (.tensor?, nil): return .tensor
        case (.channel?, nil): return .channel
        case (.group?, nil): return .group(size: defaultGroupSize)
        case let (nil, size?), let (.group?, size?): return .group(size: size)
        case let (other?, _?):
            let location = map.optional("group_size")?.location ?? map.owner.location
            throw RecipeError.conflict(location, problem: "group_size is set but granularity is \(other.rawValue)",
                                       hint: "use granularity: group, or remove group_size")
        }
    }

    /// Decodes `observer` and its `percentile` from a mapping that declares both keys.
    static func decodeObserver(_ map: RecipeMapping, observerKey: String) throws -> Observer {
        let name = try map.optional(observerKey, default: ObserverName.minmax) { try $0.choice(ObserverName.self) }
        let percentile = try map.optional("percentile").map { try $0.number(NumberRange(lower: 0, lowerInclusive: false, upper: 100)) }
        switch name {
        case .minmax: break
        case .mse: break
        case .percentile: return .percentile(percentile ?? 99.9)
        }
        if percentile != nil, let value = map.optional("percentile") {
            throw RecipeError.conflict(value.location, problem: "percentile is set but observer is \(name.rawValue)",
                                       hint: "set observer: percentile, or remove percentile")
        }
        return name == .mse ? .mse : .minmax
    }
}
