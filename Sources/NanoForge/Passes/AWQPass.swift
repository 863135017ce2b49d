import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor
import Yams

/// The `awq` pass: activation-aware scales (``AWQ``) searched on calibration data for each of
/// the model's smoothing groups (``ChannelSmoothingModel``: a norm or Linear layer and the Linear
/// layers reading its output) and folded into the float weights, so that a following `quantize`
/// stage (RTN or GPTQ) rounds salient input channels on a finer grid. The model's function is
/// unchanged in float; the pass quantizes nothing itself.
///
/// Calibration: one forward pass over the calibration data, on the model as the stage receives
/// it. Folding a group leaves the model's function unchanged, so every group's input is what
/// it would be after the groups before it were folded (llm-compressor's layer-by-layer pass reads
/// the same values, more slowly); only the group's own input is divided by its scales, which the
/// search accounts for. Groups are searched last to first, so that a consumer whose rows another
/// group rescales (`up_proj`, the producer of `up → down`) already holds those rows when its own
/// group simulates its quantization.
public struct AWQPass: CompressionPass {
    public var settings: AWQ.Settings
    public var selector: LayerSelector

    public init(settings: AWQ.Settings, selector: LayerSelector) {
        self.settings = settings
        self.selector = selector
    }

    public static let key = "awq"
    public static let summary = "Activation-aware weight quantization (AWQ): per-channel scales searched on calibration activations for each smoothing group the model's family lists (Llama: input norm → q/k/v, post-attention norm → gate/up, up → down, v → o without grouped-query heads; BERT: value → attention output) and folded into the float weights; the model's function is unchanged. Put it before a `quantize` stage (RTN or GPTQ) with the same scheme. A group is smoothed when its producer and every consumer are selected."
    public static let shapeEffect = ShapeEffect.keepsShapes
    public var layerSelection: LayerSelector? { selector }
    public var needsCalibration: Bool { true }

    public static let defaultGroupSize = 128

    /// The block types a `ggml_type` may name, as recipes spell them.
    static let ggmlTypeNames: [(name: String, value: GGUFTensorType)] =
        GGUFBlockEncoder.encodable.map { ($0.name.lowercased(), $0) }

    public static let fields: [RecipeField] = [
        RecipeField("bits", "integer", default: "4", allowed: "2…8", "Weight bit width the search simulates (as the quantize stage's)."),
        RecipeField("symmetric", "boolean", default: "true", allowed: "true | false", "Symmetric or asymmetric grid, as the quantize stage's."),
        RecipeField("granularity", "string", default: "group", allowed: RecipeField.choices(QuantizePass.granularityNames),
                    "One scale per tensor, per output channel, or per group of `group_size` weights."),
        RecipeField("group_size", "integer", default: "128 with granularity group", allowed: "≥ 1",
                    "Weights per scale group along the input dimension; only with granularity `group` (or none given)."),
        RecipeField("ggml_type", "string", allowed: RecipeField.choices(ggmlTypeNames),
                    "Simulate ggml's round to nearest in this block type instead of an integer scheme (then no bits, symmetric, granularity or group_size). Every consumer's rows must be whole blocks."),
        RecipeField("grid", "integer", default: "20", allowed: "2…1000", "Candidates for α: 0, 1/grid, …, (grid − 1)/grid; scales are mean|x|^α."),
        RecipeField("duo_scaling", "boolean", default: "false", allowed: "true | false",
                    "Also divide the scales by the weights' mean relative magnitude^(1 − α) (llm-compressor's duo_scaling)."),
    ] + SelectionFields.fields(defaultTargets: ["*"])

    // MARK: recipe

    public static func decode(_ node: RecipeNode) throws -> AWQPass {
        let map = try node.mapping(fields)
        let selector = try SelectionFields.decode(map, defaultTargets: ["*"])
        let quantizer: AWQ.Quantizer
        if let typeNode = map.optional("ggml_type") {
            let schemeKeys = ["bits", "symmetric", "granularity", "group_size"]
            if let key = schemeKeys.first(where: map.contains), let value = map.optional(key) {
                throw RecipeError.conflict(value.location, problem: "'\(key)' describes an integer scheme, but ggml_type is set",
                                           hint: "remove '\(key)' or 'ggml_type'")
            }
            quantizer = .ggml(try decodeGGMLType(typeNode))
        } else {
            let bits = try map.optional("bits", default: 4) { try $0.int(2...8) }
            let symmetric = try map.optional("symmetric", default: true) { try $0.bool() }
            quantizer = .integer(QuantizationScheme(bits: bits, symmetric: symmetric, granularity: try QuantizePass.decodeGranularity(map, neitherGiven: .group(defaultGroupSize))))
        }
        var settings = AWQ.Settings(quantizer: quantizer)
        settings.grid = try map.optional("grid", default: 20) { try $0.int(2...1000) }
        settings.duoScaling = try map.optional("duo_scaling", default: false) { try $0.bool() }
        return AWQPass(settings: settings, selector: selector)
    }

    /// A ggml block type by name, any case.
    static func decodeGGMLType(_ node: RecipeNode) throws -> GGUFTensorType {
        let names = ggmlTypeNames.map(\.name)
        let text = try node.string()
        guard let type = ggmlTypeNames.first(where: { $0.name == text.lowercased() })?.value else {
            throw RecipeError.invalidChoice(node.location, allowed: names, found: text,
                                            suggestion: NameSuggestion.nearest(to: text.lowercased(), in: names))
        }
        return type
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            switch settings.quantizer {
            case .ggml(let type):
                e.set("ggml_type", type.name.lowercased())
            case .integer(let scheme):
                e.set("bits", scheme.bits)
                e.set("symmetric", scheme.symmetric)
                switch scheme.granularity {
                case .tensor: e.set("granularity", "tensor")
                case .channel: e.set("granularity", "channel")
                case .group(let size): e.set("granularity", "group"); e.set("group_size", size)
                }
            }
            e.set("grid", settings.grid)
            e.set("duo_scaling", settings.duoScaling)
            SelectionFields.encode(selector, into: &e)
        }
    }

    // MARK: running

    /// A smoothing group with the checkpoint names of its layers.
    struct NamedGroup {
        var group: SmoothingGroup
        var producer: String
        var consumers: [String]
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        let label = context.label
        let container = state.model.container
        guard let smoothable = container as? ChannelSmoothingModel else {
            throw context.failure("the \(state.model.kindName)'s family lists no smoothing groups (layers whose output channels can absorb a scale), so there is nothing to smooth")
        }
        let all = try Self.named(smoothable.smoothingGroups, in: container, context: context)
        let groups = all.filter { g in
            ([(g.producer, g.group.producer.module)] + zip(g.consumers, g.group.consumers).map { ($0, $1 as ParameterContainer) })
                .allSatisfy { name, module in LayerKind(of: module).map { selector.selects(name: name, kind: $0) } ?? false }
        }
        if groups.isEmpty { throw context.nothingSelected }
        try check(groups, state, context)

        // One calibration pass: every group's input, observed at its first consumer.
        var statistics: [String: AWQ.InputStatistics] = [:]
        for g in groups { statistics[g.consumers[0]] = AWQ.InputStatistics(channels: g.group.producer.channels) }
        var problem: Error?
        try context.calibrationData(state).forEachLinearInput(state.model) { name, input, rowMask in
            guard statistics[name] != nil, problem == nil else { return }
            do { try statistics[name]!.add(CalibrationData.realRows(input, rowMask)) } catch { problem = error }
        }
        if let problem { throw context.failure("\(problem)") }
        context.log("\(label): input statistics of \(groups.count) groups from \(context.calibration.count) calibration inputs")

        var alphas: [Double] = []
        var error = 0.0, baseline = 0.0
        for (i, g) in groups.reversed().enumerated() {
            guard let stats = statistics.removeValue(forKey: g.consumers[0]), stats.rows > 0 else {
                throw context.failure("layer \(g.consumers[0]) saw no calibration input (it is not on the forward path)")
            }
            let result: AWQ.Result
            do {
                result = try AWQ.search(g.group.consumers.map(\.weight.value), statistics: stats, settings: settings)
            } catch {
                throw context.failure("group \(g.producer) → \(g.consumers.joined(separator: ", ")): \(error)")
            }
            if let alpha = result.alpha {
                g.group.fold(result.scales)
                alphas.append(alpha)
            }
            error += result.error
            baseline += result.roundToNearestError
            if (i + 1) % 12 == 0 || i + 1 == groups.count { context.log("\(label): \(i + 1)/\(groups.count) groups searched") }
        }
        let meanAlpha = alphas.isEmpty ? 0 : alphas.reduce(0, +) / Double(alphas.count)
        let ratio = baseline > 0 ? error / baseline : 1
        var summary = "\(settings.quantizer) scales (grid \(settings.grid)\(settings.duoScaling ? ", duo scaling" : "")) on \(alphas.count) of \(groups.count) groups"
        summary += ", mean α \(String(format: "%.2f", meanAlpha)); calibration output error \(String(format: "%.3f", ratio))× round-to-nearest's"
        if all.count > groups.count { summary += "; \(all.count - groups.count) groups outside the selection" }
        return summary
    }

    /// The groups with their layers' checkpoint names (from the one module walk).
    static func named(_ groups: [SmoothingGroup], in container: ParameterContainer, context: PassContext) throws -> [NamedGroup] {
        var names: [ObjectIdentifier: String] = [:]
        container.walkModules { path, module in names[ObjectIdentifier(module)] = path }
        return try groups.map { group in
            func name(_ module: ParameterContainer) throws -> String {
                guard let name = names[ObjectIdentifier(module)] else {
                    throw context.failure("a smoothing group names a layer that is not part of the model (a family bug)")
                }
                return name
            }
            return NamedGroup(group: group, producer: try name(group.producer.module), consumers: try group.consumers.map { try name($0) })
        }
    }

    /// Refuses layers a stage before quantized (their packed form would no longer match), and
    /// consumers the quantizer cannot hold, naming the field and what would fit.
    func check(_ groups: [NamedGroup], _ state: CompressionState, _ context: PassContext) throws {
        for g in groups {
            var linears = g.consumers
            if case .linear = g.group.producer { linears.append(g.producer) }
            if let done = linears.first(where: { state.quantized[$0] != nil || state.ggmlQuantized[$0] != nil || state.activationQuantization[$0] != nil }) {
                throw context.failure("layer \(done) is already quantized; awq changes float weights, so it must come before the quantizing stage")
            }
            for (name, consumer) in zip(g.consumers, g.group.consumers) {
                do { try settings.quantizer.check(columns: consumer.inFeatures) } catch {
                    switch settings.quantizer {
                    case .ggml(let type):
                        let fitting = Self.ggmlTypeNames.filter { GGMLQuantizedTensor.fits($0.value, columns: consumer.inFeatures) }.map(\.name)
                        throw context.failure("\(type.name) stores rows of whole \(type.blockSize)-element blocks, and layer \(name) has rows of \(consumer.inFeatures); types that fit: \(fitting.joined(separator: ", "))",
                                              at: ".ggml_type")
                    case .integer:
                        throw context.failure("layer \(name): \(error)", at: ".group_size")
                    }
                }
            }
        }
    }
}
