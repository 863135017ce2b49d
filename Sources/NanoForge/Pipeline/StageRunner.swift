import Foundation
import NanoModels
import NanoQuant
import NanoTensor

/// Applies one recipe stage to the compression state. Each pass reads its typed options; layer
/// selection goes through the stage's `LayerSelector`.
struct StageRunner {
    let recipe: Recipe
    /// Calibration inputs (one per line of the recipe's calibration file).
    let calibration: [String]
    let log: (String) -> Void
    /// The recipe's evaluation tasks and the uncompressed model (training passes score with them).
    var tasks: [EvaluationTask] = []
    var reference: EvaluatedModel?
    /// Training passes continue from their checkpoints in `checkpointRoot/stage-<index>/`.
    var resume = false
    var checkpointRoot: String?

    func run(_ stage: StageConfiguration, index: Int, on state: CompressionState) throws -> String {
        let label = "stages[\(index)].\(stage.kind.rawValue)"
        switch stage {
        case .quantize(let options): return try quantize(options, label, state)
        case .prune(let options):
            if let schedule = options.schedule { return try scheduledPrune(options, schedule, index: index, label, state) }
            return try prune(options, label, state)
        case .pruneStructured(let options): return try pruneStructured(options, label, state)
        case .trimVocabulary(let options): return try trimVocabulary(options, label, state)
        case .mixedPrecision(let options): return try mixedPrecision(options, label, state)
        case .distill(let options): return try distill(options, index: index, label, state)
        case .qat(let options): return try qat(options, index: index, label, state)
        }
    }

    /// The weights a quantizing pass acts on: selected Linear layers, then selected embedding
    /// tables (targets `Embedding`), each with its layer name.
    func selectedWeights(_ selector: LayerSelector, _ label: String, _ state: CompressionState) throws -> [QuantizableWeight] {
        let linear = selector.layers(Linear.self, in: state.model.container)
            .map { QuantizableWeight(name: $0.name, weight: $0.layer.weight, linear: $0.layer) }
        let embeddings = selector.layers(Embedding.self, in: state.model.container)
            .map { QuantizableWeight(name: $0.name, weight: $0.layer.weight, linear: nil) }
        if linear.isEmpty && embeddings.isEmpty { throw PipelineError.noLayersSelected(recipe: recipe.file, stage: label) }
        return linear + embeddings
    }

    func selected(_ selector: LayerSelector, _ label: String, _ state: CompressionState) throws -> [(name: String, layer: Linear)] {
        let layers = selector.layers(Linear.self, in: state.model.container)
        if layers.isEmpty { throw PipelineError.noLayersSelected(recipe: recipe.file, stage: label) }
        return layers
    }

    /// The calibration inputs batched for the current model (rebuilt per stage: an earlier stage
    /// may have changed the tokenizer).
    func calibrationData(_ state: CompressionState, _ label: String) throws -> CalibrationData {
        guard !calibration.isEmpty else {
            throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "this pass needs calibration data: set data.calibration")
        }
        return try CalibrationData(inputs: calibration, model: state.model, file: recipe.calibration?.path ?? "data.calibration")
    }

    // MARK: quantize

    func quantize(_ o: QuantizeOptions, _ label: String, _ state: CompressionState) throws -> String {
        let weights = try selectedWeights(o.selector, label, state)
        let layers = weights.compactMap { w in w.linear.map { (name: w.name, layer: $0) } }
        let granularity: QuantizationScheme.Granularity
        switch o.granularity {
        case .tensor: granularity = .tensor
        case .channel: granularity = .channel
        case .group(let size): granularity = .group(size)
        }
        let scheme = QuantizationScheme(bits: o.bits, symmetric: o.symmetric, granularity: granularity)
        let observer = Self.observer(o.observer)
        let scaleFormat: ScaleFormat = o.scaleFormat == .f16 ? .float16 : .float32
        var hessians: [String: HessianAccumulator] = [:]
        if let settings = o.gptq {
            hessians = try self.hessians(for: layers.map(\.name), label, state)
            log("\(label): Hessians from \(calibration.count) calibration inputs (damping \(settings.damping), block \(settings.blockSize), act_order \(settings.actOrder))")
        }
        // Embedding tables have no calibration inputs: they always get round-to-nearest.
        for (i, entry) in weights.enumerated() {
            let (name, w) = (entry.name, entry.weight.value)
            let q: QuantizedTensor
            do {
                if let settings = o.gptq, let h = hessians[name] {
                    let config = GPTQ.Configuration(scheme: scheme, observer: observer, dampingFraction: settings.damping,
                                                    blockSize: settings.blockSize, activationOrder: settings.actOrder, scaleFormat: scaleFormat)
                    q = try GPTQ.quantize(w, hessian: h, configuration: config)
                } else {
                    q = try RTN.quantize(w, scheme: scheme, observer: observer, scaleFormat: scaleFormat)
                }
            } catch {
                throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "layer \(name): \(error)")
            }
            let dq = q.dequantized()
            state.weightErrors[name] = Self.relativeError(w, dq)
            entry.weight.value = dq
            state.quantized[name] = q
            if (i + 1) % 12 == 0 || i + 1 == weights.count { log("\(label): \(i + 1)/\(weights.count) layers") }
        }
        var summary = "\(o.method.rawValue) \(scheme) on \(weights.count) layers"
        if let settings = o.activations {
            if settings.mode == .dynamic {
                for (name, layer) in layers {
                    let aq = ActivationQuantization.dynamicPerToken(bits: settings.bits)
                    aq.install(on: layer)
                    state.activationQuantization[name] = aq
                }
                summary += ", int\(settings.bits) dynamic per-token activations"
            } else {
                try quantizeActivations(settings, layers: layers, label, state)
                summary += ", int\(settings.bits) activations (\(settings.observer))"
            }
        }
        return summary
    }

    /// Static activation quantization: one observer per selected layer over the calibration
    /// inputs (with the weights already quantized), then the fake quantization installed.
    func quantizeActivations(_ settings: QuantizeOptions.Activations, layers: [(name: String, layer: Linear)],
                             _ label: String, _ state: CompressionState) throws {
        let observers = try inputObservers(for: layers.map(\.name), observer: Self.observer(settings.observer), label, state)
        for (name, layer) in layers {
            guard let observer = observers[name], observer.sampleCount > 0 else {
                throw PipelineError.stageFailed(recipe: recipe.file, stage: label + ".activations",
                                                reason: "layer \(name) saw no calibration input (it is not on the forward path)")
            }
            let aq = ActivationQuantization(parameters: observer.parameters(bits: settings.bits, symmetric: settings.symmetric),
                                            bits: settings.bits, symmetric: settings.symmetric)
            aq.install(on: layer)
            state.activationQuantization[name] = aq
        }
        log("\(label): int\(settings.bits) activation scales for \(layers.count) layers from \(calibration.count) calibration inputs")
    }

    /// GPTQ's Hessian accumulators of the named layers, from the calibration inputs.
    func hessians(for names: [String], _ label: String, _ state: CompressionState) throws -> [String: HessianAccumulator] {
        let wanted = Set(names)
        var hessians: [String: HessianAccumulator] = [:]
        var failure: Error?
        try calibrationData(state, label).forEachLinearInput(state.model) { name, input, rowMask in
            guard wanted.contains(name), failure == nil else { return }
            do {
                try hessians[name, default: HessianAccumulator(columns: input.shape[1])].add(CalibrationData.realRows(input, rowMask))
            } catch { failure = error }
        }
        if let failure { throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "\(failure)") }
        return hessians
    }

    // MARK: mixed_precision

    func mixedPrecision(_ o: MixedPrecisionOptions, _ label: String, _ state: CompressionState) throws -> String {
        let layers = try selectedWeights(o.selector, label, state)
        let data = try calibrationData(state, label)
        let hessians = o.method == .gptq ? try self.hessians(for: layers.filter { $0.linear != nil }.map(\.name), label, state) : [:]
        let pass = MixedPrecisionPass(options: o, label: label, recipeFile: recipe.file, log: log)
        return try pass.run(layers: layers, state: state, calibration: data, inputs: calibration) { name, w, scheme in
            do {
                if let h = hessians[name] {
                    return try GPTQ.quantize(w, hessian: h, configuration: .init(scheme: scheme, activationOrder: true))
                }
                return try RTN.quantize(w, scheme: scheme)
            } catch {
                throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "layer \(name): \(error)")
            }
        }
    }

    static func observer(_ o: QuantizeOptions.Observer) -> Observer {
        switch o {
        case .minmax: return .minmax
        case .mse: return .mse
        case .percentile(let p): return .percentile(p)
        }
    }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a.scalars, b.scalars) { num += Double((x - y) * (x - y)); den += Double(x * x) }
        return den > 0 ? (num / den).squareRoot() : 0
    }

    // MARK: prune

    func prune(_ o: PruneOptions, _ label: String, _ state: CompressionState) throws -> String {
        let layers = try selected(o.selector, label, state)
        let pattern: SparsityPattern
        switch o.pattern {
        case .unstructured: pattern = .unstructured
        case .nOfM(let n, let m): pattern = .nOfM(n: n, m: m)
        }
        let norms = o.method == .wanda ? try calibrationData(state, label).inputNorms(state.model) : [:]
        let configuration = UnstructuredPruning.Configuration(
            method: o.method == .wanda ? .wanda : .magnitude, sparsity: o.pattern == .unstructured ? o.sparsity : nil,
            pattern: pattern, scope: o.scope == .global ? .global : .layer)
        do {
            let results = try UnstructuredPruning(configuration).apply(to: layers, inputNorms: norms)
            let pruned = results.reduce(0) { $0 + $1.mask.prunedCount }, total = results.reduce(0) { $0 + $1.mask.prunedCount + $1.mask.keptCount }
            return "\(o.method.rawValue) \(pattern) on \(layers.count) layers: sparsity \(String(format: "%.4f", Double(pruned) / Double(max(total, 1))))"
        } catch {
            throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "\(error)")
        }
    }

    func pruneStructured(_ o: StructuredPruneOptions, _ label: String, _ state: CompressionState) throws -> String {
        let encoder = try state.model.sentenceEncoder(for: label, recipe: recipe.file).encoder
        // A layer loses neurons when the selector takes its feed-forward projections, heads when
        // it takes its attention projections.
        let selected = Set(o.selector.layers(Linear.self, in: encoder).map(\.name))
        func layers(_ suffixes: [String]) -> Set<Int> {
            Set(encoder.layers.indices.filter { i in suffixes.contains { selected.contains("encoder.layer.\(i)." + $0) } })
        }
        let ffLayers = layers(["intermediate.dense", "output.dense"])
        let headLayers = layers(["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"])
        if (o.ffnRatio > 0 && ffLayers.isEmpty) || (o.headRatio > 0 && headLayers.isEmpty) {
            throw PipelineError.noLayersSelected(recipe: recipe.file, stage: label)
        }
        let norms = o.method == .activation ? try calibrationData(state, label).inputNorms(state.model) : [:]
        let configuration = StructuredPruning.Configuration(feedForwardRatio: o.ffnRatio, headRatio: o.headRatio,
                                                            importance: o.method == .activation ? .activation : .l2Norm,
                                                            global: o.scope == .global)
        do {
            let report = try StructuredPruning(configuration).apply(to: encoder, inputNorms: norms,
                                                                    feedForwardLayers: ffLayers, headLayers: headLayers)
            let widths = report.layers.map { "\($0.neuronsAfter)/\($0.headsAfter)" }.joined(separator: " ")
            return "removed \(report.parametersBefore - report.parametersAfter) parameters (\(report.parametersBefore) → \(report.parametersAfter)); neurons/heads per layer: \(widths)"
        } catch {
            throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "\(error)")
        }
    }

    func trimVocabulary(_ o: TrimVocabularyOptions, _ label: String, _ state: CompressionState) throws -> String {
        var corpus: [String] = []
        for path in o.corpus {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw PipelineError.missingFile(recipe: recipe.file, field: "\(label).corpus", path: path)
            }
            // TSV corpora contribute every column.
            for line in text.split(whereSeparator: \.isNewline) { corpus += line.split(separator: "\t").map(String.init) }
        }
        var options = VocabularyTrim.Options()
        options.keepSpecial = o.keepSpecial
        options.minCount = o.minCount
        let encoder = try state.model.sentenceEncoder(for: label, recipe: recipe.file)
        let before = encoder.tokenizer.vocabulary.count
        let trim = VocabularyTrim(tokenizer: encoder.tokenizer, corpus: corpus, options: options)
        state.model = .sentenceEncoder(try trim.apply(to: encoder))
        return "kept \(trim.keptIds.count) of \(before) word pieces from \(corpus.count) lines"
    }
}
