import NanoModels
import Yams

/// The `prune_structured` pass: removes whole blocks (depth), feed-forward channels and attention
/// heads (width) of any model whose family conforms to `StructurallyPrunableModel` (BERT, the
/// Llama family) / `BlockDroppableModel` (depth: the Llama family), so tensors physically shrink.
/// Its settings decode straight into `StructuredPruning.Configuration`.
public struct StructuredPrunePass: CompressionPass {
    public var configuration: StructuredPruning.Configuration
    public var selector: LayerSelector

    public init(configuration: StructuredPruning.Configuration, selector: LayerSelector) {
        self.configuration = configuration
        self.selector = selector
    }

    public static let key = "prune_structured"
    public static let summary = "Removes whole blocks (depth), feed-forward channels and attention heads (width); tensors shrink and the config records the new sizes. A block loses channels when `targets`/`ignore` select one of its feed-forward projections, heads when they select one of its attention projections, and may be dropped when they select any of its projections. Models whose family is structurally prunable: BERT encoders (width), the Llama family (width and depth); Keras convolutional graphs lose convolution output channels (`channel_ratio`)."
    public static let shapeEffect = ShapeEffect.shrinks
    public static let prunesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var needsCalibration: Bool { configuration.importance == .activation || configuration.recalibrateBatchNorm || configuration.dropBlocks > 0 || configuration.hiddenRatio > 0 }

    public static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "l2", allowed: RecipeField.choices(StructuredPruning.Importance.self),
                    "Importance of a neuron or head: L2 norm of its weights, or its mean activation magnitude on calibration data."),
        RecipeField("ffn_ratio", "number", default: "0", allowed: "[0, 1)", "Fraction of feed-forward neurons to remove."),
        RecipeField("head_ratio", "number", default: "0", allowed: "[0, 1)", "Fraction of attention heads to remove."),
        RecipeField("head_unit", "string", default: "query", allowed: RecipeField.choices(StructuredPruning.HeadUnit.self),
                    "Grouped-query attention: `query` removes the same number of query heads from every key/value group (the key/value heads stay); `group` removes whole key/value groups with their query heads. Layers with one key/value head per query head remove single heads either way."),
        RecipeField("scope", "string", default: "layer", allowed: RecipeField.choices(UnstructuredPruning.Scope.self),
                    "Apply the ratio in every layer, or overall (layers then lose different amounts; families whose config holds one width for all blocks, such as Llama, need `layer`)."),
        RecipeField("drop_blocks", "integer", default: "0", allowed: "≥ 0, fewer than the model's blocks",
                    "Remove this many whole blocks, lowest block influence first (ShortGPT: 1 − mean cosine between a block's input and output hidden states on data.calibration)."),
        RecipeField("drop_block_indices", "list of integers", default: "[]", allowed: "distinct block indices (0-based)",
                    "Remove exactly these blocks instead."),
        RecipeField("hidden_ratio", "number", default: "0", allowed: "[0, 1)",
                    "Fraction of the residual stream's channels (the hidden width) to remove from every tensor that reads or writes it, lowest summed input norm over the stream's readers on data.calibration first (Minitron). Every layer must be selected. Families: Llama. Keep the width a multiple of 32 (of 256 for K-quants) so that ggml's block types still tile the rows (SmolLM2: 576 → 448 is 0.2222). At least one of ffn_ratio, head_ratio, hidden_ratio, channel_ratio, drop_blocks and drop_block_indices must remove something."),
        RecipeField("channel_ratio", "number", default: "0", allowed: "[0, 1)",
                    "Keras convolutional graphs: fraction of the output channels of every selected Conv2D / SeparableConv2D (by layer name) to remove, with BatchNormalization, depthwise layers and the readers' input channels; the branches of a residual Add lose the same channels. Importance (`l2`): the L2 norm of the channel's filters after BatchNormalization folding. Channels fixed by the input, the output, Dense outputs, Concatenate or Flatten stay."),
        RecipeField("recalibrate_batch_norm", "boolean", default: "false", allowed: "true | false",
                    "Keras convolutional graphs, after removing channels: re-estimate every BatchNormalization layer's moving mean and variance on the data.calibration images, in graph order (adaptive BatchNorm)."),
    ] + SelectionFields.fields(defaultTargets: ["*"])

    public static func decode(_ node: RecipeNode) throws -> StructuredPrunePass {
        let map = try node.mapping(fields)
        let selector = try SelectionFields.decode(map, defaultTargets: ["*"])
        var configuration = StructuredPruning.Configuration()
        configuration.importance = try map.optional("method", default: .l2Norm) { try $0.choice(StructuredPruning.Importance.self) }
        configuration.feedForwardRatio = try map.optional("ffn_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.headRatio = try map.optional("head_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.headUnit = try map.optional("head_unit", default: .query) { try $0.choice(StructuredPruning.HeadUnit.self) }
        configuration.global = try map.optional("scope", default: .layer) { try $0.choice(UnstructuredPruning.Scope.self) } == .global
        configuration.dropBlocks = try map.optional("drop_blocks", default: 0) { try $0.int(atLeast: 0) }
        configuration.hiddenRatio = try map.optional("hidden_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.channelRatio = try map.optional("channel_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.recalibrateBatchNorm = try map.optional("recalibrate_batch_norm", default: false) { try $0.bool() }
        configuration.dropBlockIndices = try map.optional("drop_block_indices", default: []) { node in
            let indices = try node.list().map { try $0.int(atLeast: 0) }
            guard Set(indices).count == indices.count else {
                throw RecipeError.outOfRange(node.location, allowed: "distinct block indices", found: "\(indices)")
            }
            return indices.sorted()
        }
        if configuration.dropBlocks > 0 && !configuration.dropBlockIndices.isEmpty {
            throw RecipeError.conflict(node.location, problem: "drop_blocks and drop_block_indices both choose blocks to remove",
                                       hint: "give one of them")
        }
        guard configuration.feedForwardRatio > 0 || configuration.headRatio > 0 || configuration.hiddenRatio > 0
                || configuration.channelRatio > 0 || configuration.prunesDepth else {
            throw RecipeError.conflict(node.location, problem: "ffn_ratio, head_ratio, hidden_ratio, channel_ratio and drop_blocks are all 0 and drop_block_indices is empty, so nothing would be removed",
                                       hint: "set ffn_ratio, head_ratio, hidden_ratio, channel_ratio or drop_blocks above 0, or name blocks in drop_block_indices")
        }
        return StructuredPrunePass(configuration: configuration, selector: selector)
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            e.set("method", configuration.importance)
            e.set("ffn_ratio", configuration.feedForwardRatio)
            e.set("head_ratio", configuration.headRatio)
            e.set("head_unit", configuration.headUnit)
            e.set("scope", configuration.global ? UnstructuredPruning.Scope.global : .layer)
            if configuration.dropBlocks > 0 { e.set("drop_blocks", configuration.dropBlocks) }
            if !configuration.dropBlockIndices.isEmpty { e.set("drop_block_indices", ints: configuration.dropBlockIndices) }
            if configuration.hiddenRatio > 0 { e.set("hidden_ratio", configuration.hiddenRatio) }
            if configuration.channelRatio > 0 { e.set("channel_ratio", configuration.channelRatio) }
            if configuration.recalibrateBatchNorm { e.set("recalibrate_batch_norm", true) }
            SelectionFields.encode(selector, into: &e)
        }
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        if let graph = state.model.as(KerasGraphModel.self) { return try runKerasGraph(graph, on: state, context: context) }
        if configuration.channelRatio > 0 {
            throw context.failure("channel_ratio applies to Keras convolutional graphs, not a \(state.model.kindName) of this family", at: ".channel_ratio")
        }
        guard let model = state.model.model?.container as? StructurallyPrunableModel else {
            throw context.failure("a \(state.model.kindName) of this family cannot be pruned structurally (its family does not conform to StructurallyPrunableModel)")
        }
        if let packed = (Array(state.quantized.keys) + Array(state.ggmlQuantized.keys)).sorted().first {
            throw context.failure("\(packed) is already quantized; prune before quantizing")
        }
        let selected = Set(selector.layers(Linear.self, in: model).map(\.name))
        func blocks(_ names: (PrunableBlock) -> [String]) -> [Int] {
            model.prunableBlocks.indices.filter { i in names(model.prunableBlocks[i]).contains(where: selected.contains) }
        }
        var notes: [String] = []
        var dropped: [Int] = [], influence: [Double] = []
        if configuration.prunesDepth {
            (dropped, influence) = try dropBlocks(model, candidates: blocks { $0.attentionProjections + $0.feedForwardProjections },
                                                  state: state, context: context)
            notes.append("removed blocks \(dropped) of \(dropped.count + model.prunableBlocks.count)")
        }
        if configuration.feedForwardRatio > 0 || configuration.headRatio > 0 {
            let all = Set(model.prunableBlocks.indices)
            let ffBlocks = configuration.feedForwardRatio > 0 ? Set(blocks(\.feedForwardProjections)) : []
            let headBlocks = configuration.headRatio > 0 ? Set(blocks(\.attentionProjections)) : []
            if (configuration.feedForwardRatio > 0 && ffBlocks.isEmpty) || (configuration.headRatio > 0 && headBlocks.isEmpty) {
                throw context.nothingSelected
            }
            if !model.allowsBlocksOfDifferentWidths {
                // One width for all blocks: every block shrinks alike, or none does.
                if configuration.global { throw context.failure("this family's config holds one width for all blocks: use scope: layer", at: ".scope") }
                for (field, chosen, ratio) in [("ffn_ratio", ffBlocks, configuration.feedForwardRatio), ("head_ratio", headBlocks, configuration.headRatio)]
                    where ratio > 0 && chosen != all {
                    throw context.failure("this family's config holds one width for all blocks, but targets/ignore select \(chosen.count) of \(all.count) blocks; select every block's projections or none", at: "." + field)
                }
            }
            let norms = configuration.importance == .activation ? try context.inputNorms(state) : [:]
            do {
                let report = try StructuredPruning(configuration).apply(to: model, inputNorms: norms, feedForwardBlocks: ffBlocks, headBlocks: headBlocks)
                let widths = Set(report.layers.map { "\($0.neuronsAfter)/\($0.headsAfter)" + ($0.kvHeadsAfter < $0.headsAfter ? "/\($0.kvHeadsAfter)" : "") })
                notes.append("channels/heads\(report.layers.contains { $0.kvHeadsAfter < $0.headsAfter } ? "/kv heads" : "") per block: \(widths.sorted().joined(separator: " "))")
            } catch let error as PruningError {
                throw context.failure("\(error)")
            }
        } else {
            model.recordBlockSizes()
        }
        if configuration.hiddenRatio > 0 {
            notes.append(try pruneHiddenWidth(model, selected: selected, state: state, context: context))
        }
        let scores = influence.isEmpty ? "" : "; block influence " + influence.map { String(format: "%.4f", $0) }.joined(separator: " ")
        return notes.joined(separator: "; ") + "; \(state.parameterCount) parameters" + scores
    }

    /// Hidden width (Minitron): channel j's importance is Σ over the residual stream's readers of
    /// ‖x_j‖₂, their input norms on the calibration text (after the stage's other removals).
    func pruneHiddenWidth(_ model: StructurallyPrunableModel, selected: Set<String>, state: CompressionState,
                          context: PassContext) throws -> String {
        guard let model = model as? HiddenWidthPrunableModel else {
            throw context.failure("a \(state.model.kindName) of this family cannot lose hidden channels (its family does not conform to HiddenWidthPrunableModel)", at: ".hidden_ratio")
        }
        let unselected = Set(state.model.linearLayers.map(\.name)).subtracting(selected)
        if let name = unselected.sorted().first {
            throw context.failure("hidden channels run through every layer, but targets/ignore leave out \(name)", at: ".hidden_ratio")
        }
        let norms = try context.inputNorms(state)
        var importance = [Float](repeating: 0, count: model.hiddenWidth)
        for reader in model.residualReaders {
            guard let n = norms[reader], n.count == importance.count else {
                throw context.failure("no calibration input norms for \(reader)", at: ".hidden_ratio")
            }
            for j in importance.indices { importance[j] += n[j] }
        }
        let kept = StructuredPruning.keptIndices(importance: importance, ratio: configuration.hiddenRatio)
        let before = model.hiddenWidth
        model.keepHiddenChannels(kept)
        return "hidden width \(before) → \(kept.count)"
    }

    /// Depth: removes the named blocks, or the `drop_blocks` candidates of lowest block influence.
    func dropBlocks(_ model: StructurallyPrunableModel, candidates: [Int], state: CompressionState,
                    context: PassContext) throws -> (dropped: [Int], influence: [Double]) {
        guard let stack = model as? BlockDroppableModel else {
            throw context.failure("a \(state.model.kindName) of this family cannot lose whole blocks (its family does not conform to BlockDroppableModel)",
                                  at: configuration.dropBlocks > 0 ? ".drop_blocks" : ".drop_block_indices")
        }
        let count = stack.prunableBlocks.count
        var influence: [Double] = []
        let dropped: [Int]
        if !configuration.dropBlockIndices.isEmpty {
            if let bad = configuration.dropBlockIndices.first(where: { !candidates.contains($0) }) {
                throw context.failure("block \(bad) is \(bad < count ? "not selected by targets/ignore" : "out of range (the model has \(count) blocks)")",
                                      at: ".drop_block_indices")
            }
            dropped = configuration.dropBlockIndices
        } else {
            guard configuration.dropBlocks <= candidates.count else {
                throw context.failure("\(configuration.dropBlocks) blocks to remove, but only \(candidates.count) of \(count) are selected", at: ".drop_blocks")
            }
            guard let sequences = CalibrationData.languageModelSequences(context.calibration, model: state.model), !sequences.isEmpty else {
                throw context.failure("block influence needs token sequences from data.calibration", at: ".drop_blocks")
            }
            influence = BlockInfluence.scores(stack, sequences: sequences)
            dropped = BlockInfluence.lowest(influence, count: configuration.dropBlocks, among: candidates)
        }
        guard dropped.count < count else {
            throw context.failure("removing \(dropped.count) of \(count) blocks leaves none", at: configuration.dropBlocks > 0 ? ".drop_blocks" : ".drop_block_indices")
        }
        stack.keepBlocks((0..<count).filter { !dropped.contains($0) })
        return (dropped, influence)
    }
}

// The recipe spells the importance by its raw value (`l2`, `activation`), the head unit too.
extension StructuredPruning.Importance: RecipeChoice {}
extension StructuredPruning.HeadUnit: RecipeChoice {}
