import NanoModels
import NanoTensor

/// Removes whole feed-forward neurons and whole attention heads, so tensors physically shrink and
/// the model gets smaller and faster (not just full of zeros).
///
/// - A feed-forward neuron j is row j of `up` (and `gate`) with its bias entry, and column j of
///   `down`. Removing it is exact when its `down` column is zero.
/// - An attention head h is rows h·d..<(h+1)·d of query, key and value (and their biases), and the
///   same columns of the output projection. Only layers with one key/value head per query head
///   are pruned: removing a query head of a grouped-query layer would need its whole key/value
///   group removed, which is refused with `PruningError.groupedQueryAttention`.
///
/// Importance (lowest pruned first, ties by lower index):
/// - `.l2Norm`: the L2 norm of all weights that belong to the neuron or head (Li et al. 2017,
///   "Pruning Filters for Efficient ConvNets", applied to transformer channels).
/// - `.activation`: the norm of what the unit contributes on calibration data,
///   ‖a_j‖₂ · ‖W_down[:, j]‖₂ for a neuron (a_j its activation over all tokens), and
///   √(Σ_j∈h ‖c_j‖₂² · ‖W_o[:, j]‖₂²) for a head (c its context output), a Wanda-style product
///   of activation and output weight norms (Sun et al. 2023). Needs the input norms of
///   `output.dense` / `attention.output.dense` (see `BertCalibration.inputNorms`).
public struct StructuredPruning: Sendable {
    public enum Importance: String, Equatable, Hashable, Sendable, CaseIterable {
        case l2Norm = "l2"
        case activation
    }

    /// The pass's options: the fraction of neurons and of heads removed, in every selected layer
    /// (`global == false`) or over all selected layers together (`global == true`: units compete
    /// on raw importance across layers, each layer keeping at least one); what a head is under
    /// grouped-query attention (`headUnit`); and whole blocks removed (depth: `dropBlocks` ranked
    /// by block influence, or the blocks `dropBlockIndices` names).
    public struct Configuration: Equatable, Sendable {
        public var feedForwardRatio: Double
        public var headRatio: Double
        public var importance: Importance
        public var global: Bool
        public var headUnit: HeadUnit = .query
        /// How many blocks to remove, lowest block influence first (0: none).
        public var dropBlocks = 0
        /// The blocks to remove, by index (instead of `dropBlocks`).
        public var dropBlockIndices: [Int] = []
        /// Fraction of the residual stream's channels to remove (Minitron's hidden width).
        public var hiddenRatio: Double = 0
        /// Fraction of the output channels of Keras graphs' Conv2D / SeparableConv2D layers to remove.
        public var channelRatio: Double = 0
        /// Keras graphs: re-estimate BatchNormalization statistics on data.calibration after pruning.
        public var recalibrateBatchNorm = false

        public init(feedForwardRatio: Double = 0, headRatio: Double = 0, importance: Importance = .l2Norm, global: Bool = false) {
            self.feedForwardRatio = feedForwardRatio; self.headRatio = headRatio; self.importance = importance
            self.global = global
        }

        /// Whether whole blocks are removed.
        public var prunesDepth: Bool { dropBlocks > 0 || !dropBlockIndices.isEmpty }
    }

    /// What happened to one transformer layer.
    public struct LayerChange: Equatable, Sendable {
        public var name: String
        public var neuronsBefore: Int, neuronsAfter: Int
        public var headsBefore: Int, headsAfter: Int
        /// The indices of the neurons and heads kept, ascending.
        public var keptNeurons: [Int], keptHeads: [Int]
        /// Key/value heads (0 where not recorded: the BERT path, one per head).
        public var kvHeadsBefore = 0, kvHeadsAfter = 0
    }

    public struct Report: Equatable, Sendable {
        public var layers: [LayerChange]
        /// Blocks removed (original indices, ascending) and each block's influence when ranked by it.
        public var droppedBlocks: [Int] = []
        public var blockInfluence: [Double] = []
        public var parametersBefore: Int
        public var parametersAfter: Int
    }

    public let configuration: Configuration

    /// Validates the ratios (each in [0, 1)).
    public init(_ configuration: Configuration) throws {
        for (option, r) in [("feed_forward_ratio", configuration.feedForwardRatio), ("head_ratio", configuration.headRatio)] {
            guard r >= 0, r < 1 else { throw PruningError.valueOutOfRange(option: option, allowed: "a ratio in [0, 1)", found: r) }
        }
        self.configuration = configuration
    }

    /// Prunes a BERT encoder in place and records the new sizes in its configuration
    /// (`layerIntermediateWidths`, `layerHeads` when layers differ), so the saved config loads
    /// back. `inputNorms` is keyed by Linear layer name, as `BertCalibration` gives.
    /// `feedForwardLayers` / `headLayers` restrict which layers lose neurons / heads (nil: all).
    @discardableResult
    public func apply(to model: BertEncoder, inputNorms: [String: [Float]] = [:],
                      feedForwardLayers: Set<Int>? = nil, headLayers: Set<Int>? = nil) throws -> Report {
        let before = model.parameterCount
        let all = Set(model.layers.indices)
        let ffLayers = (feedForwardLayers ?? all).intersection(all), attnLayers = (headLayers ?? all).intersection(all)
        var neuronScores: [Int: [Float]] = [:], headScores: [Int: [Float]] = [:]
        for (i, layer) in model.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            if ffLayers.contains(i) {
                neuronScores[i] = Self.neuronImportance(layer.feedForward, intermediateNorms: try norms(inputNorms, p + "output.dense"))
            }
            if attnLayers.contains(i) {
                headScores[i] = try Self.headImportance(layer.attention, contextNorms: try norms(inputNorms, p + "attention.output.dense"),
                                                        layer: p + "attention")
            }
        }
        let keptNeurons = kept(neuronScores, ratio: configuration.feedForwardRatio)
        let keptHeads = kept(headScores, ratio: configuration.headRatio)
        var changes: [LayerChange] = []
        for (i, layer) in model.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            let (neuronsBefore, headsBefore) = (layer.feedForward.hiddenWidth, layer.attention.heads)
            let neurons = keptNeurons[i] ?? Array(0..<neuronsBefore), heads = keptHeads[i] ?? Array(0..<headsBefore)
            if neurons.count < neuronsBefore { Self.keepNeurons(layer.feedForward, neurons) }
            if heads.count < headsBefore { try Self.keepHeads(layer.attention, heads, layer: p + "attention") }
            changes.append(LayerChange(name: "encoder.layer.\(i)", neuronsBefore: neuronsBefore, neuronsAfter: neurons.count,
                                       headsBefore: headsBefore, headsAfter: heads.count, keptNeurons: neurons, keptHeads: heads))
        }
        model.recordLayerSizes()
        return Report(layers: changes, parametersBefore: before, parametersAfter: model.parameterCount)
    }

    /// Kept indices per layer: `ratio` of each layer's units, or of all layers' units together.
    func kept(_ scores: [Int: [Float]], ratio: Double) -> [Int: [Int]] {
        guard ratio > 0 else { return [:] }
        guard configuration.global else { return scores.mapValues { Self.keptIndices(importance: $0, ratio: ratio) } }
        // Global: remove the lowest round(ratio · total) units over all layers (ties by layer,
        // then index), but never a layer's last unit.
        let units = scores.keys.sorted().flatMap { layer in scores[layer]!.indices.map { (layer, $0, scores[layer]![$0]) } }
        var remaining = scores.mapValues(\.count)
        var removed = Set<[Int]>()
        let target = MaskSelection.pruneCount(sparsity: ratio, of: units.count)
        for unit in units.sorted(by: { ($0.2, $0.0, $0.1) < ($1.2, $1.0, $1.1) }) where removed.count < target {
            guard remaining[unit.0]! > 1 else { continue }
            remaining[unit.0]! -= 1
            removed.insert([unit.0, unit.1])
        }
        var result: [Int: [Int]] = [:]
        for (layer, s) in scores { result[layer] = s.indices.filter { !removed.contains([layer, $0]) } }
        return result
    }

    func norms(_ all: [String: [Float]], _ name: String) throws -> [Float]? {
        guard configuration.importance == .activation else { return nil }
        guard let n = all[name] else { throw PruningError.missingActivationNorms(layer: name) }
        return n
    }

    /// The indices kept when `ratio` of the units (round(ratio · n), at most n − 1) with the lowest
    /// importance are removed; ascending, so kept units stay in order.
    public static func keptIndices(importance: [Float], ratio: Double) -> [Int] {
        let prune = Swift.min(importance.count - 1, MaskSelection.pruneCount(sparsity: ratio, of: importance.count))
        let keep = MaskSelection.lowestFlags(importance[...], count: Swift.max(0, prune))
        return keep.indices.filter { keep[$0] }
    }
}
