import NanoModels

/// `prune_structured` on a Keras convolutional graph: `channel_ratio` of the output channels of
/// every channel group (`KerasChannelGroups`) whose Conv2D / SeparableConv2D producers
/// `targets` / `ignore` select by layer name are removed (`KerasChannelPruning`), lowest L2 norm of
/// the BatchNormalization-folded filters first. Groups fixed by the graph (input, output, Dense
/// outputs, Concatenate, Flatten) keep their channels and the summary says which.
extension StructuredPrunePass {
    func runKerasGraph(_ graph: KerasGraphModel, on state: CompressionState, context: PassContext) throws -> String {
        let kind = "a Keras convolutional graph loses convolution output channels (channel_ratio)"
        for (field, set) in [("ffn_ratio", configuration.feedForwardRatio > 0), ("head_ratio", configuration.headRatio > 0),
                             ("hidden_ratio", configuration.hiddenRatio > 0), ("drop_blocks", configuration.dropBlocks > 0),
                             ("drop_block_indices", !configuration.dropBlockIndices.isEmpty)] where set {
            throw context.failure("\(kind); \(field) applies to transformer blocks", at: "." + field)
        }
        guard configuration.channelRatio > 0 else { throw context.failure("\(kind): set channel_ratio above 0", at: ".channel_ratio") }
        if configuration.importance != .l2Norm {
            throw context.failure("\(kind) ranked by the L2 norm of its folded filters; method \(configuration.importance.rawValue) is not implemented for convolutions", at: ".method")
        }
        if configuration.global { throw context.failure("\(kind) in every channel group alike: use scope: layer", at: ".scope") }
        if state.integerCNN != nil { throw context.failure("the model is already quantized to int8; prune before quantizing") }
        let file = context.recipe.modelPath
        let shapes = try KerasGraphShapes.infer(KerasGraphArchitecture.configuration(of: graph), file: file)
        let groups = KerasChannelGroups(KerasGraphArchitecture.configuration(of: graph), shapes: shapes)
        let folded = KerasBatchNormFolding.fold(graph).model
        var kept: [Int: [Int]] = [:]
        var fixed: [String] = []
        for (g, group) in groups.groups.enumerated() where !group.producers.isEmpty {
            let chosen = group.producers.filter { selector.selects(name: $0, kind: .linear) }
            if chosen.isEmpty { continue }
            if chosen.count < group.producers.count {
                let left = group.producers.filter { !chosen.contains($0) }
                throw context.failure("\(chosen.joined(separator: ", ")) and \(left.joined(separator: ", ")) write the same channels (joined by a residual Add); targets/ignore must select all of them or none")
            }
            if let reason = group.fixedBecause {
                fixed.append("\(group.producers.joined(separator: "+")) (\(reason))")
                continue
            }
            kept[g] = StructuredPruning.keptIndices(importance: KerasChannelPruning.importance(of: group, folded: folded),
                                                    ratio: configuration.channelRatio)
        }
        guard !kept.isEmpty else {
            if fixed.isEmpty { throw context.nothingSelected }
            throw context.failure("\(file): no selected convolution can lose channels: \(fixed.joined(separator: "; "))", at: ".channel_ratio")
        }
        let before = state.parameterCount
        let changes = KerasChannelPruning.apply(to: graph, groups: groups, kept: kept)
        graph.recordLayerWidths()
        // The new widths must still make a consistent graph (the saved config reloads from them).
        _ = try KerasGraphShapes.infer(graph.configuration, file: file)
        var recalibrated = ""
        if configuration.recalibrateBatchNorm {
            guard !context.calibration.isEmpty else {
                throw context.failure("recalibrate_batch_norm measures BatchNormalization statistics on images: set data.calibration", at: ".recalibrate_batch_norm")
            }
            let path = context.recipe.calibration?.path ?? "data.calibration"
            let images = try context.calibration.enumerated().map { i, line in try EvaluationData.features(line, file: path, line: i + 1) }
            if let i = images.firstIndex(where: { $0.count != graph.featureCount }) {
                throw context.failure("\(path):\(i + 1): \(images[i].count) values, the model takes \(graph.featureCount)", at: ".recalibrate_batch_norm")
            }
            let layers = KerasBatchNormRecalibration.apply(to: graph, images: images)
            recalibrated = "; statistics of \(layers.count) BatchNormalization layers re-estimated on \(images.count) calibration images"
        }
        let widths = changes.map { "\($0.producers.joined(separator: "+")) \($0.before)→\($0.after)" }.joined(separator: ", ")
        return "channels per group: \(widths)" + (fixed.isEmpty ? "" : "; kept whole: \(fixed.joined(separator: "; "))")
            + "; \(before) → \(state.parameterCount) parameters" + recalibrated
    }
}
