import NanoModels
import NanoQuant
import NanoTensor

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
struct MixedPrecisionPass {
    let options: MixedPrecisionOptions
    let label: String
    let recipeFile: String
    let log: (String) -> Void
    /// Calibration inputs used for the sensitivities (a prefix of the calibration data).
    static let sensitivityInputs = 64
    /// Frontier points applied and measured besides the chosen one.
    static let checkedPoints = 5

    func run(layers: [QuantizableWeight], state: CompressionState, calibration: CalibrationData,
             inputs: [String], quantize: (String, Tensor, QuantizationScheme) throws -> QuantizedTensor) throws -> String {
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
            for bits in options.candidates {
                let q = try quantize(name, original, scheme(bits: bits, columns: original.shape[1]))
                layer.weight.value = q.dequantized()
                losses.append(try loss())
                row.append(q)
            }
            layer.weight.value = original
            candidates.append(row)
            sensitivities.append(.init(layer: name, bits: options.candidates, loss: losses, bytes: row.map(\.packedByteCount)))
            if (k + 1) % 6 == 0 || k + 1 == layers.count { log("\(label): sensitivities \(k + 1)/\(layers.count) layers") }
        }
        // 2. Exact allocation over the frontier.
        let weights = layers.map { $0.weight.value.count }
        let options = candidates.enumerated().map { k, row in
            row.enumerated().map { i, q in
                BitAllocation.Option(bits: self.options.candidates[i], cost: self.costs(q, bits: self.options.candidates[i], count: weights[k]),
                                     loss: sensitivities[k].loss[i])
            }
        }
        let frontier = BitAllocation.frontier(options)
        let budget = try budgetCost(state: state, layers: layers)
        guard let best = frontier.last(where: { $0.cost <= budget }) else {
            throw PipelineError.stageFailed(recipe: recipeFile, stage: label + ".budget",
                                            reason: "the budget cannot be met: even every layer at \(self.options.candidates[0]) bits exceeds it (\(describe(frontier.first!.cost)) against \(describe(budget)))")
        }
        // 3. Apply and measure a few frontier points, then the chosen one last (it stays applied).
        let originals = layers.map { $0.weight.value }
        func apply(_ point: BitAllocation.Point) {
            for (k, layer) in layers.enumerated() { layer.weight.value = candidates[k][point.choices[k]].dequantized() }
        }
        func point(_ p: BitAllocation.Point, measured: Double?) -> MixedPrecisionReport.FrontierPoint {
            let bits = zip(p.choices.indices, p.choices).reduce(0.0) { $0 + Double(self.options.candidates[$1.1] * weights[$1.0]) }
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
            state.weightErrors[layer.name] = StageRunner.relativeError(originals[k], layer.weight.value)
        }
        var frontierPoints = frontier.enumerated().map { point($0.element, measured: checked[$0.offset]) }
        if let i = frontier.firstIndex(of: best) { frontierPoints[i].measuredLoss = measured }
        state.mixedPrecision = MixedPrecisionReport(
            budget: describe(budget), sensitivities: sensitivities, frontier: frontierPoints,
            choice: Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1.name, self.options.candidates[best.choices[$0]]) }),
            chosen: point(best, measured: measured), sensitivityInputs: probe.count)
        let counts = Dictionary(grouping: best.choices.map { self.options.candidates[$0] }, by: { $0 }).mapValues(\.count)
        let mix = counts.keys.sorted().map { "\(counts[$0]!)×int\($0)" }.joined(separator: ", ")
        return "\(mix) on \(layers.count) layers (frontier of \(frontier.count) allocations); predicted loss \(String(format: "%.5f", best.loss)), measured \(String(format: "%.5f", measured))"
    }

    /// Group-wise scales when the layer's input width allows the recipe's group size, else per
    /// output channel.
    func scheme(bits: Int, columns: Int) -> QuantizationScheme {
        if let g = options.groupSize, columns % g == 0 { return QuantizationScheme(bits: bits, granularity: .group(g)) }
        return QuantizationScheme(bits: bits, granularity: .channel)
    }

    /// A layer option's cost in the budget's unit: stored bytes, or nominal code bits.
    func costs(_ q: QuantizedTensor, bits: Int, count: Int) -> Int {
        switch options.budget {
        case .sizeMB: return q.packedByteCount
        case .averageBits: return bits * count
        }
    }

    /// The budget for the selected layers' weights, in the cost unit.
    func budgetCost(state: CompressionState, layers: [QuantizableWeight]) throws -> Int {
        switch options.budget {
        case .averageBits(let bits):
            return Int((bits * Double(layers.reduce(0) { $0 + $1.weight.value.count })).rounded(.down))
        case .sizeMB(let mb):
            // Everything outside the selected weights keeps its current stored size.
            let selected = layers.reduce(0) { total, entry in
                total + (state.quantized[entry.name]?.packedByteCount ?? 4 * entry.weight.value.count)
            }
            return Int(mb * 1_000_000) - (state.sizeBytes - selected)
        }
    }

    func describe(_ cost: Int) -> String {
        switch options.budget {
        case .sizeMB: return String(format: "%.2f MB", Double(cost) / 1e6)
        case .averageBits: return "\(cost) code bits"
        }
    }
}
