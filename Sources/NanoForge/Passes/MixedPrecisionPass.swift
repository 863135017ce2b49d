import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor
import Yams

/// The `mixed_precision` pass: a bit width per layer, from measured sensitivities, meeting a size
/// budget at the least predicted loss.
///
/// 1. Sensitivity: each selected layer alone is quantized at each candidate width (RTN, or GPTQ
///    with Hessians from the calibration data) and the loss `1 − cosine_mean` against the model's
///    outputs before the stage is measured on the first calibration inputs.
/// 2. Allocation: `BitAllocation` finds the exact Pareto frontier of (bytes, summed loss) and
///    takes the least-loss point within the budget (`size_mb`: the whole model's stored bytes;
///    `average_bits`: nominal code bits per selected weight).
/// 3. Check: the chosen allocation and a few other frontier points are applied together and
///    measured, so the report shows predicted against measured loss.
///
/// With `ggml_types` the candidates are ggml block types instead of bit widths, and the loss is
/// the KL divergence on calibration text (see `MixedPrecisionPass+GGML.swift`).
public struct MixedPrecisionPass: CompressionPass {
    /// The size target: exactly one of packed megabytes, average code bits per selected weight, or
    /// stored bits per parameter of the whole model.
    public enum Budget: Equatable {
        case sizeMB(Double)
        case averageBits(Double)
        /// The whole model's stored bytes × 8 / its parameter count (block scales, unquantized
        /// norms and embeddings included), as llama.cpp reports a file's BPW.
        case bitsPerWeight(Double)
    }

    /// Candidate bit widths, ascending and distinct, each in 2…8.
    public var candidates: [Int] = [2, 3, 4, 8]
    /// Candidate ggml block types instead of bit widths (nil: bit widths), distinct, in the
    /// recipe's order.
    public var ggmlTypes: [GGUFTensorType]?
    /// With `ggmlTypes`: `calibration` makes every candidate ggml's round to nearest weighted by the
    /// calibration text's importance matrix (`QuantizePass.Importance`).
    public var importance: QuantizePass.Importance = .none
    public var budget: Budget
    public var method: QuantizePass.Method = .rtn
    /// Group size for every candidate; nil for per-channel.
    public var groupSize: Int? = 128
    public var selector: LayerSelector

    public init(candidates: [Int] = [2, 3, 4, 8], budget: Budget, selector: LayerSelector) {
        self.candidates = candidates
        self.budget = budget
        self.selector = selector
    }

    /// Calibration inputs used for the sensitivities (a prefix of the calibration data).
    static let sensitivityInputs = 64
    /// Frontier points applied and measured besides the chosen one.
    static let checkedPoints = 5

    public static let key = "mixed_precision"
    public static let summary = "Chooses a bit width (or a ggml block type) per layer from measured sensitivities to meet a size budget at the least predicted loss."
    public static let shapeEffect = ShapeEffect.keepsShapes
    public static let quantizesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var needsCalibration: Bool { true }

    public static let fields: [RecipeField] = [
        RecipeField("candidates", "list of integers", default: "[2, 3, 4, 8]", allowed: "distinct, each 2…8", "Bit widths a layer may get."),
        RecipeField("ggml_types", "list of strings", allowed: "distinct, each " + GGMLCandidateTypes.allowedNames.joined(separator: " | "),
                    "ggml block types a layer may get instead of bit widths (not with candidates, group_size or method gptq): ggml's round to nearest, sensitivity = KL divergence on the calibration text. A type whose blocks do not tile a layer's rows is dropped for that layer (reported)."),
        RecipeField("budget", "mapping", required: true,
                    allowed: "{size_mb: > 0}, {bits_per_weight: > 0} or {average_bits: within the candidates}",
                    "The size target, exactly one key: the whole model's stored megabytes, its stored bits per parameter, or (bit-width candidates only) nominal code bits per selected weight."),
        RecipeField("method", "string", default: "rtn", allowed: RecipeField.choices(QuantizePass.Method.self),
                    "Quantizer used for sensitivities and the final result."),
        RecipeField("group_size", "integer", default: "128", allowed: "≥ 1", "Group size of every candidate."),
        RecipeField("importance", "string", default: "none", allowed: RecipeField.choices(QuantizePass.Importance.self),
                    "With `ggml_types` only: `calibration` makes every candidate ggml's round to nearest weighted by each input column's mean x² over the calibration data (llama.cpp's importance matrix, as `quantize`'s `importance`); embedding tables stay unweighted."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    // MARK: recipe section

    public static func decode(_ node: RecipeNode) throws -> MixedPrecisionPass {
        let map = try node.mapping(fields)
        let ggmlTypes = try decodeGGMLTypes(map)
        var candidates = [2, 3, 4, 8]
        if let candidatesNode = map.optional("candidates") {
            candidates = try candidatesNode.list().map { try $0.int(2...8) }
            guard !candidates.isEmpty, Set(candidates).count == candidates.count else {
                throw RecipeError.outOfRange(candidatesNode.location, allowed: "a non-empty list of distinct bit widths", found: "\(candidates)")
            }
            candidates.sort()
        }
        let budgetNode = try map.required("budget", hint: "e.g. budget: {size_mb: 8}")
        let budgetMap = try budgetNode.mapping(keys: ["size_mb", "bits_per_weight", "average_bits"])
        let given = ["size_mb", "bits_per_weight", "average_bits"].filter { budgetMap.contains($0) }
        guard given.count == 1 else {
            throw RecipeError.conflict(budgetNode.location, problem: "budget needs exactly one of size_mb, bits_per_weight and average_bits",
                                       hint: "give one of size_mb, bits_per_weight or average_bits")
        }
        let budget: Budget
        if let size = budgetMap.optional("size_mb") {
            budget = .sizeMB(try size.number(.greaterThan(0)))
        } else if let bits = budgetMap.optional("bits_per_weight") {
            budget = .bitsPerWeight(try bits.number(.greaterThan(0)))
        } else {
            let bits = try budgetMap.required("average_bits")
            if ggmlTypes != nil {
                throw RecipeError.conflict(bits.location, problem: "average_bits counts integer code bits, which ggml_types do not have",
                                           hint: "with ggml_types give size_mb or bits_per_weight (stored bits per parameter, block scales included)")
            }
            budget = .averageBits(try bits.number(.closed(Double(candidates.first ?? 2), Double(candidates.last ?? 8))))
        }
        var pass = MixedPrecisionPass(candidates: candidates, budget: budget,
                                      selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]))
        pass.method = try map.optional("method", default: .rtn) { try $0.choice(QuantizePass.Method.self) }
        pass.groupSize = try map.optional("group_size", default: 128) { try $0.int(atLeast: 1) }
        if let ggmlTypes {
            if pass.method == .gptq, let method = map.optional("method") {
                throw RecipeError.conflict(method.location, problem: "ggml_types candidates are ggml's round to nearest; method gptq applies to bit-width candidates",
                                           hint: "leave out method (or set rtn) with ggml_types")
            }
            pass.ggmlTypes = ggmlTypes
            pass.groupSize = nil
            pass.importance = try map.optional("importance", default: .none) { try $0.choice(QuantizePass.Importance.self) }
        } else if let importance = map.optional("importance") {
            throw RecipeError.conflict(importance.location, problem: "'importance' weights ggml's round to nearest and applies only with ggml_types",
                                       hint: "give ggml_types, or remove 'importance'")
        }
        return pass
    }

    /// `ggml_types`, checked: known names, distinct, not beside integer candidates.
    static func decodeGGMLTypes(_ map: RecipeMapping) throws -> [GGUFTensorType]? {
        guard let typesNode = map.optional("ggml_types") else { return nil }
        for key in ["candidates", "group_size"] {
            if let other = map.optional(key) {
                throw RecipeError.conflict(other.location, problem: "\(key) configures bit-width candidates, and ggml_types replaces them",
                                           hint: "give either ggml_types or candidates/group_size")
            }
        }
        let allowed = GGMLCandidateTypes.allowedNames
        let types = try typesNode.list().map { item -> GGUFTensorType in
            let name = try item.string()
            guard let type = GGMLCandidateTypes.type(named: name) else {
                throw RecipeError.invalidChoice(item.location, allowed: allowed, found: name,
                                                suggestion: NameSuggestion.nearest(to: name.lowercased(), in: allowed))
            }
            return type
        }
        guard !types.isEmpty, Set(types).count == types.count else {
            throw RecipeError.outOfRange(typesNode.location, allowed: "a non-empty list of distinct ggml types",
                                         found: "[" + types.map(GGMLCandidateTypes.recipeName).joined(separator: ", ") + "]")
        }
        return types
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            if let ggmlTypes {
                e.set("ggml_types", strings: ggmlTypes.map(GGMLCandidateTypes.recipeName))
            } else {
                e.set("candidates", ints: candidates)
            }
            e.set("budget", RecipeEncoding.mapping { b in
                switch budget {
                case .sizeMB(let mb): b.set("size_mb", mb)
                case .averageBits(let bits): b.set("average_bits", bits)
                case .bitsPerWeight(let bits): b.set("bits_per_weight", bits)
                }
            })
            e.set("method", method)
            if ggmlTypes == nil { e.set("group_size", groupSize) }
            if importance != .none { e.set("importance", importance) }
            SelectionFields.encode(selector, into: &e)
        }
    }

    // MARK: running

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        if state.model.as(KerasGraphModel.self) != nil {
            // What `quantize` builds for a Keras graph is int8 end to end; its C and TFLite exports
            // have no int4 (packed-nibble) kernels, so a per-layer int4 choice could not be deployed.
            throw context.failure("a Keras convolutional graph is quantized full-integer int8 (the C and TFLite exports run int8 kernels only); "
                                  + "per-layer bit widths are not implemented for it: use quantize, or prune_structured for a smaller flash budget")
        }
        let layers = try context.selectedWeights(selector, in: state)
        if let ggmlTypes {
            var producer: any GGMLCandidateProducer = GGMLRoundToNearest()
            if importance == .calibration {
                let matrix = try context.importanceMatrix(for: layers.filter { $0.linear != nil }.map(\.name), in: state)
                context.log("\(context.label): importance matrix from \(context.calibration.count) calibration inputs")
                producer = GGMLImportanceRoundToNearest(matrix: matrix)
            }
            return try runGGML(types: ggmlTypes, layers: layers, state: state, inputs: context.calibration, context: context,
                               producer: producer)
        }
        let data = try context.calibrationData(state)
        let hessians = method == .gptq ? try context.hessians(for: layers.filter { $0.linear != nil }.map(\.name), in: state) : [:]
        return try run(layers: layers, state: state, calibration: data, inputs: context.calibration,
                       context: context) { name, w, scheme in
            do {
                if let h = hessians[name] {
                    return try GPTQ.quantize(w, hessian: h, configuration: .init(scheme: scheme, activationOrder: true))
                }
                return try RTN.quantize(w, scheme: scheme)
            } catch {
                throw context.failure("layer \(name): \(error)")
            }
        }
    }

    func run(layers: [QuantizableWeight], state: CompressionState, calibration: CalibrationData,
             inputs: [String], context: PassContext, quantize: (String, Tensor, QuantizationScheme) throws -> QuantizedTensor) throws -> String {
        let probe = Array(inputs.prefix(Self.sensitivityInputs))
        let reference = try state.model.outputs(for: probe, file: "calibration")
        func loss() throws -> Double {
            1 - Metrics.cosineSummary(try state.model.outputs(for: probe, file: "calibration"), reference).mean
        }
        // 1. Sensitivities, one layer at a time.
        var candidates: [[QuantizedTensor]] = []
        var sensitivities: [MixedPrecisionReport.Sensitivity] = []
        for (k, entry) in layers.enumerated() {
            let (name, layer) = (entry.name, entry)
            let original = layer.weight.value
            var row: [QuantizedTensor] = [], losses: [Double] = []
            for bits in self.candidates {
                let q = try quantize(name, original, scheme(bits: bits, columns: original.shape[1]))
                layer.weight.value = q.dequantized()
                losses.append(try loss())
                row.append(q)
            }
            layer.weight.value = original
            candidates.append(row)
            sensitivities.append(.init(layer: name, bits: self.candidates, loss: losses, bytes: row.map(\.packedByteCount)))
            if (k + 1) % 6 == 0 || k + 1 == layers.count { context.log("\(context.label): sensitivities \(k + 1)/\(layers.count) layers") }
        }
        // 2. Exact allocation over the frontier.
        let weights = layers.map { $0.weight.value.count }
        let options = candidates.enumerated().map { k, row in
            row.enumerated().map { i, q in
                BitAllocation.Option(bits: self.candidates[i], cost: self.costs(q, bits: self.candidates[i], count: weights[k]),
                                     loss: sensitivities[k].loss[i])
            }
        }
        let frontier = BitAllocation.frontier(options)
        let budget = try budgetCost(state: state, layers: layers)
        guard let best = frontier.last(where: { $0.cost <= budget }) else {
            throw context.failure("the budget cannot be met: even every layer at \(self.candidates[0]) bits exceeds it (\(describe(frontier.first!.cost)) against \(describe(budget)))", at: ".budget")
        }
        // 3. Apply and measure a few frontier points, then the chosen one last (it stays applied).
        let originals = layers.map { $0.weight.value }
        func apply(_ point: BitAllocation.Point) {
            for (k, layer) in layers.enumerated() { layer.weight.value = candidates[k][point.choices[k]].dequantized() }
        }
        func point(_ p: BitAllocation.Point, measured: Double?) -> MixedPrecisionReport.FrontierPoint {
            let bits = zip(p.choices.indices, p.choices).reduce(0.0) { $0 + Double(self.candidates[$1.1] * weights[$1.0]) }
            return .init(bytes: p.choices.enumerated().reduce(0) { $0 + candidates[$1.offset][$1.element].packedByteCount },
                         predictedLoss: p.loss, measuredLoss: measured, averageBits: bits / Double(weights.reduce(0, +)))
        }
        var checked: [Int: Double] = [:]
        let step = max(1, frontier.count / Self.checkedPoints)
        for index in Swift.Set(stride(from: 0, to: frontier.count, by: step).map { $0 } + [frontier.count - 1]) {
            apply(frontier[index])
            checked[index] = try loss()
        }
        apply(best)
        let measured = try loss()
        for (k, layer) in layers.enumerated() {
            state.quantized[layer.name] = candidates[k][best.choices[k]]
            state.weightErrors[layer.name] = PassContext.relativeError(originals[k], layer.weight.value)
        }
        var frontierPoints = frontier.enumerated().map { point($0.element, measured: checked[$0.offset]) }
        if let i = frontier.firstIndex(of: best) { frontierPoints[i].measuredLoss = measured }
        state.mixedPrecision = MixedPrecisionReport(
            budget: describe(budget), sensitivities: sensitivities, frontier: frontierPoints,
            choice: Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1.name, self.candidates[best.choices[$0]]) }),
            chosen: point(best, measured: measured), sensitivityInputs: probe.count)
        let counts = Dictionary(grouping: best.choices.map { self.candidates[$0] }, by: { $0 }).mapValues(\.count)
        let mix = counts.keys.sorted().map { "\(counts[$0]!)×int\($0)" }.joined(separator: ", ")
        return "\(mix) on \(layers.count) layers (frontier of \(frontier.count) allocations); predicted loss \(String(format: "%.5f", best.loss)), measured \(String(format: "%.5f", measured))"
    }

    /// Group-wise scales when the layer's input width allows the recipe's group size, else per
    /// output channel.
    func scheme(bits: Int, columns: Int) -> QuantizationScheme {
        if let g = groupSize, columns % g == 0 { return QuantizationScheme(bits: bits, granularity: .group(g)) }
        return QuantizationScheme(bits: bits, granularity: .channel)
    }

    /// A layer option's cost in the budget's unit: stored bytes, or nominal code bits.
    func costs(_ q: QuantizedTensor, bits: Int, count: Int) -> Int {
        switch budget {
        case .sizeMB, .bitsPerWeight: return q.packedByteCount
        case .averageBits: return bits * count
        }
    }

    /// The budget for the selected layers' weights, in the cost unit.
    func budgetCost(state: CompressionState, layers: [QuantizableWeight]) throws -> Int {
        switch budget {
        case .averageBits(let bits):
            return Int((bits * Double(layers.reduce(0) { $0 + $1.weight.value.count })).rounded(.down))
        case .sizeMB(let mb):
            return Int(mb * 1_000_000) - Self.unselectedBytes(state: state, layers: layers)
        case .bitsPerWeight(let bits):
            return Int((bits * Double(state.parameterCount) / 8).rounded(.down)) - Self.unselectedBytes(state: state, layers: layers)
        }
    }

    /// Stored bytes of everything outside the selected weights (which keeps its current size).
    static func unselectedBytes(state: CompressionState, layers: [QuantizableWeight]) -> Int {
        let selected = layers.reduce(0) { total, entry in
            total + (state.quantized[entry.name]?.packedByteCount ?? state.ggmlQuantized[entry.name]?.byteCount ?? 4 * entry.weight.value.count)
        }
        return state.sizeBytes - selected
    }

    func describe(_ cost: Int) -> String {
        switch budget {
        case .sizeMB, .bitsPerWeight: return String(format: "%.2f MB", Double(cost) / 1e6)
        case .averageBits: return "\(cost) code bits"
        }
    }
}
