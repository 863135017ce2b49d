import NanoModels
import NanoTensor

/// Width pruning of any `StructurallyPrunableModel` (BERT, the Llama family): the same neuron and
/// head importances as the BERT path, over the family's `PrunableBlock`s, with grouped-query
/// attention handled by `HeadUnit`.
extension StructuredPruning {
    /// What a head ratio removes in grouped-query attention, where `heads / kvHeads` query heads
    /// share each key/value head (a group). Layers with one key/value head per query head (BERT)
    /// prune heads one by one under either choice.
    public enum HeadUnit: String, Equatable, Hashable, Sendable, CaseIterable {
        /// The same number of query heads in every group (the lowest-ranked in each); key/value
        /// heads stay. Finer steps (SmolLM2: 9 heads in 3 groups of 3 → 6 in 3 groups of 2).
        case query
        /// Whole groups: a key/value head with all its query heads (shrinks the KV cache too).
        case group
    }

    /// One importance per query head: the L2 norm of its query rows and output columns, or
    /// √(Σ_j∈h ‖c_j‖₂² ‖W_o[:, j]‖₂²) given the output projection's input norms.
    static func queryHeadImportance(_ attention: MultiHeadAttention, contextNorms: [Float]?, layer: String) throws -> [Float] {
        let d = attention.headDimension
        let outColumns = columnSquaredNorms(attention.output.weight.value)
        var perFeature: [Float]
        if let contextNorms {
            guard contextNorms.count == outColumns.count else {
                throw PruningError.activationNormsMismatch(layer: layer, expected: outColumns.count, found: contextNorms.count)
            }
            perFeature = zip(contextNorms, outColumns).map { $0 * $0 * $1 }
        } else {
            perFeature = zip(outColumns, rowSquaredNorms(attention.query.weight.value)).map(+)
        }
        return (0..<attention.heads).map { h in perFeature[h * d..<(h + 1) * d].reduce(0, +) }.map { $0.squareRoot() }
    }

    /// One importance per key/value group: √(Σ over its query heads of their importance²), plus,
    /// by weight norms, its key and value rows. With one query head per group this is the BERT
    /// path's head importance.
    static func groupImportance(_ attention: MultiHeadAttention, queryImportance: [Float], byWeights: Bool) -> [Float] {
        let perGroup = attention.heads / attention.kvHeads, d = attention.headDimension
        let keyRows = byWeights ? zip(rowSquaredNorms(attention.key.weight.value), rowSquaredNorms(attention.value.weight.value)).map(+) : []
        return (0..<attention.kvHeads).map { g in
            var total = queryImportance[g * perGroup..<(g + 1) * perGroup].reduce(0) { $0 + $1 * $1 }
            if byWeights { total += keyRows[g * d..<(g + 1) * d].reduce(0, +) }
            return total.squareRoot()
        }
    }

    /// Rebuilds `attention` with query heads `heads` and key/value heads `groups` (ascending;
    /// each kept group keeps the same number of its own query heads).
    static func keepHeads(_ attention: MultiHeadAttention, heads: [Int], groups: [Int]) {
        let d = attention.headDimension
        func features(_ units: [Int]) -> [Int] { units.flatMap { $0 * d..<($0 + 1) * d } }
        attention.replaceProjections(query: keepingRows(attention.query, features(heads)), key: keepingRows(attention.key, features(groups)),
                                     value: keepingRows(attention.value, features(groups)),
                                     output: keepingColumns(attention.output, features(heads)), heads: heads.count, kvHeads: groups.count)
    }

    /// Prunes feed-forward channels of `feedForwardBlocks` and heads of `headBlocks` (indices into
    /// `model.prunableBlocks`) and records the new sizes. `inputNorms` by Linear name (the
    /// attention output's and down projection's, for `.activation`).
    @discardableResult
    public func apply(to model: StructurallyPrunableModel, inputNorms: [String: [Float]] = [:], feedForwardBlocks: Set<Int>,
                      headBlocks: Set<Int>) throws -> Report {
        let before = model.parameterCount
        let blocks = model.prunableBlocks
        var neuronScores: [Int: [Float]] = [:], groupScores: [Int: [Float]] = [:], queryScores: [Int: [Float]] = [:]
        for (i, block) in blocks.enumerated() {
            if feedForwardBlocks.contains(i) {
                neuronScores[i] = Self.neuronImportance(block.feedForward, intermediateNorms: try norms(inputNorms, block.feedForwardDown))
            }
            if headBlocks.contains(i) {
                let attention = block.attention
                let q = try Self.queryHeadImportance(attention, contextNorms: try norms(inputNorms, block.attentionOutput), layer: block.path)
                queryScores[i] = q
                groupScores[i] = Self.groupImportance(attention, queryImportance: q, byWeights: configuration.importance == .l2Norm)
            }
        }
        let keptNeurons = kept(neuronScores, ratio: configuration.feedForwardRatio)
        // Query heads within groups where groups hold several; otherwise whole groups (= heads).
        let withinGroups = Set(groupScores.keys.filter { configuration.headUnit == .query && blocks[$0].attention.heads > blocks[$0].attention.kvHeads })
        if configuration.global && !withinGroups.isEmpty && configuration.headRatio > 0 {
            throw PruningError.valueOutOfRange(option: "scope", allowed: "layer with head_unit query on grouped-query attention (or head_unit group)", found: 1)
        }
        let keptGroups = kept(groupScores.filter { !withinGroups.contains($0.key) }, ratio: configuration.headRatio)
        var changes: [LayerChange] = []
        for (i, block) in blocks.enumerated() {
            let attention = block.attention, feedForward = block.feedForward
            let (neuronsBefore, headsBefore, kvBefore) = (feedForward.hiddenWidth, attention.heads, attention.kvHeads)
            let perGroup = headsBefore / kvBefore
            let neurons = keptNeurons[i] ?? Array(0..<neuronsBefore)
            var groups = Array(0..<kvBefore), heads = Array(0..<headsBefore)
            if withinGroups.contains(i), configuration.headRatio > 0, let scores = queryScores[i] {
                heads = (0..<kvBefore).flatMap { g in
                    Self.keptIndices(importance: Array(scores[g * perGroup..<(g + 1) * perGroup]), ratio: configuration.headRatio).map { g * perGroup + $0 }
                }
            } else if let kept = keptGroups[i] {
                groups = kept
                heads = kept.flatMap { g in g * perGroup..<(g + 1) * perGroup }
            }
            if neurons.count < neuronsBefore { Self.keepNeurons(feedForward, neurons) }
            if heads.count < headsBefore { Self.keepHeads(attention, heads: heads, groups: groups) }
            changes.append(LayerChange(name: block.path, neuronsBefore: neuronsBefore, neuronsAfter: neurons.count,
                                       headsBefore: headsBefore, headsAfter: heads.count, keptNeurons: neurons, keptHeads: heads,
                                       kvHeadsBefore: kvBefore, kvHeadsAfter: groups.count))
        }
        model.recordBlockSizes()
        return Report(layers: changes, parametersBefore: before, parametersAfter: model.parameterCount)
    }
}
