import Foundation
import NanoCheckpoint
import NanoQuant
import NanoTensor

/// `mixed_precision` with `ggml_types`: a ggml block type per selected weight (token embeddings
/// included when `targets` names `Embedding`), chosen exactly under a size budget at the least
/// predicted KL divergence.
///
/// 1. Candidates: every listed type whose blocks tile the layer's rows (others are dropped for the
///    layer and reported), made by a `GGMLCandidateProducer`; each pair's exact bytes and relative
///    weight error are computed.
/// 2. Sensitivity: the mean KL divergence to the model before the stage on chunks of the
///    calibration text (`KLProbe`), measured for one or two types per layer and predicted for the
///    others from the weight errors (`GGMLSensitivityModel`).
/// 3. Allocation: `BitAllocation`'s exact frontier over the layers' exact bytes; the budget counts
///    the whole model's stored bytes (blocks of every layer plus everything left in float32).
/// 4. Check: a few predicted pairs are measured alone, and a few frontier points and the choice
///    are applied together and measured; the report records predicted against measured KL.
extension MixedPrecisionPass {
    /// Tokens per chunk of the KL probe (capped at the model's context) and the chunks it scores.
    static let probeContext = 256
    static let probeChunks = 2
    /// Layers of each kind whose low point is measured (the rest use their kind's exponent).
    static let lowPointsPerKind = 4
    /// Predicted pairs measured alone after the allocation.
    static let predictionCheckCount = 8
    /// Frontier points applied and measured besides the chosen one.
    static let checkedGGMLPoints = 3
    /// Frontier points kept in the report, evenly spaced (applied points always).
    static let reportedFrontierPoints = 120

    func runGGML(types: [GGUFTensorType], layers: [QuantizableWeight], state: CompressionState, inputs: [String],
                 context: PassContext, producer: any GGMLCandidateProducer) throws -> String {
        guard !inputs.isEmpty else { throw context.failure("this pass needs calibration data: set data.calibration") }
        let started = Date()
        let budget = try budgetCost(state: state, layers: layers)
        let unselected = Self.unselectedBytes(state: state, layers: layers)
        let probe = try KLProbe(state.model, lines: inputs, context: Self.probeContext, chunkLimit: Self.probeChunks,
                                file: context.recipe.calibration?.path ?? "data.calibration")
        func produce(_ k: Int, _ type: GGUFTensorType, _ weight: Tensor) throws -> GGMLQuantizedTensor {
            do { return try producer.quantize(weight, as: type, layer: layers[k].name) } catch {
                throw context.failure("layer \(layers[k].name) as \(type.name): \(error)")
            }
        }

        // 1–2. Candidates, errors and measured sensitivities, one layer at a time (the model is
        // restored after each): every layer's anchor, the low point of a sample of each kind.
        let originals = layers.map { $0.weight.value }
        let kinds = layers.map { GGMLSensitivityModel.kind(of: $0.name) }
        var sampled = Set<Int>()
        for members in Dictionary(grouping: layers.indices, by: { kinds[$0] }).values {
            sampled.formUnion(GGMLSensitivityModel.sample(members.sorted(), count: Self.lowPointsPerKind))
        }
        var fitting: [[GGUFTensorType]] = [], dropped: [[GGUFTensorType]] = [], errors: [[Double]] = [], bytes: [[Int]] = []
        var measured: [[Int: Double]] = []
        for (k, layer) in layers.enumerated() {
            let original = originals[k]
            let (fit, drop) = GGMLCandidateTypes.split(types, columns: original.shape[1])
            guard !fit.isEmpty else {
                throw context.failure("layer \(layer.name): no listed ggml type tiles its rows of \(original.shape[1]) values ("
                                      + drop.map { "\($0.name): blocks of \($0.blockSize)" }.joined(separator: ", ")
                                      + "); add a type with blocks of 32 or ignore the layer", at: ".ggml_types")
            }
            let candidates = try fit.map { try produce(k, $0, original) }
            let e = candidates.map { PassContext.relativeError(original, $0.dequantized()) }
            var m: [Int: Double] = [:]
            for i in GGMLSensitivityModel.measuredIndices(types: fit, errors: e, withLow: sampled.contains(k)) {
                layer.weight.value = candidates[i].dequantized()
                m[i] = probe.measure().mean
            }
            layer.weight.value = original
            fitting.append(fit); dropped.append(drop); errors.append(e); bytes.append(candidates.map(\.byteCount)); measured.append(m)
            if (k + 1) % 10 == 0 || k + 1 == layers.count {
                context.log("\(context.label): KL sensitivities \(k + 1)/\(layers.count) layers (\(String(format: "%.0f", Date().timeIntervalSince(started))) s)")
            }
        }
        // Predictions: each layer's own exponent, else its kind's median.
        let exponents = layers.indices.map { GGMLSensitivityModel.exponent(types: fitting[$0], errors: errors[$0], measured: measured[$0]) }
        var kindExponents: [String: Double] = [:]
        for (kind, members) in Dictionary(grouping: layers.indices, by: { kinds[$0] }) {
            kindExponents[kind] = GGMLSensitivityModel.median(members.compactMap { exponents[$0] })
        }
        let measuredPairs = measured.reduce(0) { $0 + $1.count }
        let sensitivities = layers.indices.map { k in
            MixedPrecisionReport.Sensitivity(
                layer: layers[k].name, bits: [],
                loss: GGMLSensitivityModel.predict(types: fitting[k], errors: errors[k], measured: measured[k],
                                                   upperExponent: exponents[k] ?? kindExponents[kinds[k]] ?? GGMLSensitivityModel.defaultExponent),
                bytes: bytes[k], types: fitting[k].map(GGMLCandidateTypes.recipeName),
                measured: fitting[k].indices.map { measured[k][$0] != nil }, relativeErrors: errors[k],
                dropped: dropped[k].isEmpty ? nil : dropped[k].map(GGMLCandidateTypes.recipeName))
        }

        // 3. Exact allocation over the frontier of exact bytes.
        let options = sensitivities.map { s in zip(s.bytes, s.loss).map { BitAllocation.Option(bits: 0, cost: $0, loss: $1) } }
        let frontier = BitAllocation.frontier(options)
        guard let bestIndex = frontier.lastIndex(where: { $0.cost <= budget }) else {
            throw context.failure("the budget cannot be met: with every selected layer in its smallest listed type the model takes "
                                  + "\(describe(frontier[0].cost + unselected)) (\(describe(unselected)) outside the selected layers) against a budget of \(describe(budget + unselected))",
                                  at: ".budget")
        }
        let best = frontier[bestIndex]

        // 4. Checks. `applied[k]` is the candidate layer k holds now (nil: its original weight);
        // applying a point re-produces only the layers whose choice changes.
        var applied: [(index: Int, tensor: GGMLQuantizedTensor)?] = Array(repeating: nil, count: layers.count)
        func apply(_ choices: [Int?]) throws {
            for (k, choice) in choices.enumerated() where applied[k]?.index != choice {
                if let i = choice {
                    let q = try produce(k, fitting[k][i], originals[k])
                    layers[k].weight.value = q.dequantized()
                    applied[k] = (i, q)
                } else {
                    layers[k].weight.value = originals[k]
                    applied[k] = nil
                }
            }
        }
        // Predicted pairs alone: those the choice uses first, then others, spread over the layers.
        let predictedPairs = sensitivities.indices.flatMap { k in sensitivities[k].measured!.indices.filter { !sensitivities[k].measured![$0] }.map { (k, $0) } }
        let chosenPredicted = predictedPairs.filter { best.choices[$0.0] == $0.1 }
        var picks = Self.spread(chosenPredicted, count: Self.predictionCheckCount)
        picks += Self.spread(predictedPairs.filter { p in !picks.contains { $0 == p } }, count: Self.predictionCheckCount - picks.count)
        var checks: [MixedPrecisionReport.PredictionCheck] = []
        for (k, i) in picks {
            var choices = [Int?](repeating: nil, count: layers.count)
            choices[k] = i
            try apply(choices)
            checks.append(.init(layer: layers[k].name, type: GGMLCandidateTypes.recipeName(fitting[k][i]),
                                predictedLoss: sensitivities[k].loss[i], measuredLoss: probe.measure().mean))
        }
        var checked: [Int: Double] = [:]
        let step = max(1, frontier.count / Self.checkedGGMLPoints)
        for index in Set(stride(from: 0, to: frontier.count, by: step)).subtracting([bestIndex]).sorted() {
            try apply(frontier[index].choices)
            checked[index] = probe.measure().mean
        }
        try apply(best.choices)
        let chosenKL = probe.measure().mean
        checked[bestIndex] = chosenKL

        for (k, layer) in layers.enumerated() {
            state.quantized[layer.name] = nil
            state.ggmlQuantized[layer.name] = applied[k]!.tensor
            state.weightErrors[layer.name] = sensitivities[k].relativeErrors![best.choices[k]]
        }

        // Report.
        let weights = layers.reduce(0) { $0 + $1.weight.value.count }
        func counts(_ choices: [Int]) -> [String: Int] {
            Dictionary(grouping: choices.indices.map { GGMLCandidateTypes.recipeName(fitting[$0][choices[$0]]) }, by: { $0 }).mapValues(\.count)
        }
        func point(_ index: Int) -> MixedPrecisionReport.FrontierPoint {
            let p = frontier[index]
            return .init(bytes: p.cost, predictedLoss: p.loss, measuredLoss: checked[index], averageBits: 8 * Double(p.cost) / Double(weights),
                         modelBytes: p.cost + unselected, modelBitsPerWeight: 8 * Double(p.cost + unselected) / Double(state.parameterCount),
                         typeCounts: checked[index] != nil ? counts(p.choices) : nil)
        }
        let kept = Set(stride(from: 0, to: frontier.count, by: max(1, frontier.count / Self.reportedFrontierPoints))).union(checked.keys)
        let typeChoice = Dictionary(uniqueKeysWithValues: layers.indices.map { (layers[$0].name, GGMLCandidateTypes.recipeName(fitting[$0][best.choices[$0]])) })
        state.mixedPrecision = MixedPrecisionReport(
            budget: describe(budget + unselected) + " for the model", sensitivities: sensitivities, frontier: kept.sorted().map(point),
            choice: [:], chosen: point(bestIndex), sensitivityInputs: probe.chunks.sequences.count,
            loss: "kl_mean", sensitivityTokens: probe.scoredTokens, typeChoice: typeChoice, predictionChecks: checks)

        let mix = counts(best.choices).sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
        let droppedNote = Self.droppedSummary(sensitivities)
        let total = best.cost + unselected
        var summary = "\(mix) on \(layers.count) layers: "
        summary += String(format: "%.2f MB, %.3f bits/parameter", Double(total) / 1e6, 8 * Double(total) / Double(state.parameterCount))
        summary += " (budget \(describe(budget + unselected))); KL predicted " + String(format: "%.5f", best.loss)
        summary += ", measured " + String(format: "%.5f", chosenKL) + " on \(probe.scoredTokens) calibration tokens; "
        summary += "\(measuredPairs) of \(predictedPairs.count + measuredPairs) pairs measured, the rest predicted"
        if !droppedNote.isEmpty { summary += "; " + droppedNote }
        return summary + String(format: "; %.0f s", Date().timeIntervalSince(started))
    }

    /// Up to `count` elements of `items`, evenly spaced.
    static func spread<T>(_ items: [T], count: Int) -> [T] {
        guard count > 0, !items.isEmpty else { return [] }
        if items.count <= count { return items }
        return (0..<count).map { items[$0 * items.count / count] }
    }

    /// "q4_k, q2_k do not tile 180 layers' rows", or empty when every type fits every layer.
    static func droppedSummary(_ sensitivities: [MixedPrecisionReport.Sensitivity]) -> String {
        var layersPerSet: [[String]: Int] = [:]
        for s in sensitivities { if let d = s.dropped { layersPerSet[d, default: 0] += 1 } }
        return layersPerSet.sorted { $0.value > $1.value }.map { "\($0.key.joined(separator: ", ")) dropped for \($0.value) layers (rows not whole blocks)" }
            .joined(separator: "; ")
    }
}
