import Foundation
import NanoModels
import NanoTensor

/// `prune` with a `schedule`: gradual magnitude or Wanda pruning with recovery. A copy of the
/// model fine-tunes against the model entering the stage (the same losses as `qat`); after every
/// `update_every` steps the masks are recomputed at the schedule's sparsity (Zhu & Gupta's cubic
/// ramp), and after every step the current masks are re-applied, so pruned weights stay zero
/// while the others recover. Wanda's input norms come once from the entering model.
extension StageRunner {
    func scheduledPrune(_ o: PruneOptions, _ schedule: PruneOptions.Schedule, index: Int, _ label: String,
                        _ state: CompressionState) throws -> String {
        _ = try selected(o.selector, label, state)   // fails early when nothing is selected
        let norms = o.method == .wanda ? try calibrationData(state, label).inputNorms(state.model) : [:]
        var pass = try recoveryPass(schedule.training, index: index, label + ".schedule", state)
        var layers: [(name: String, layer: Linear)] = []
        var masks: [SparsityMask] = []
        let selector = o.selector, scope: UnstructuredPruning.Scope = o.scope == .global ? .global : .layer
        let method: PruningMethod = o.method == .wanda ? .wanda : .magnitude
        var updates: [String] = []
        pass.prepareStudent = { student in
            layers = selector.layers(Linear.self, in: student.container)
            // A resumed run's pruned weights are exactly zero: its masks are where they are not.
            masks = layers.map { SparsityMask(nonZerosOf: $0.layer.weight.value) }
            return []
        }
        pass.afterStep = { step in
            if schedule.updates(atStep: step) {
                let target = schedule.sparsity(atStep: step)
                let results = try UnstructuredPruning(.init(method: method, sparsity: target, pattern: .unstructured, scope: scope))
                    .apply(to: layers, inputNorms: norms)
                masks = results.map(\.mask)
                updates.append(String(format: "%d:%.3f", step, target))
            } else {
                for ((_, layer), mask) in zip(layers, masks) { layer.weight.value = mask.apply(to: layer.weight.value) }
            }
        }
        let result = try train(pass, label, state)
        // The best state kept by evaluation may predate the last update: apply the final masks.
        for ((_, layer), mask) in zip(layers, masks) { layer.weight.value = mask.apply(to: layer.weight.value) }
        state.model = result.student
        state.quantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = [:]
        let pruned = masks.reduce(0) { $0 + $1.prunedCount }, total = masks.reduce(0) { $0 + $1.count }
        return "\(o.method.rawValue) gradual pruning of \(layers.count) layers to sparsity \(String(format: "%.4f", Double(pruned) / Double(max(total, 1)))) over \(result.training.steps) steps (mask updates \(updates.joined(separator: " "))), final loss \(String(format: "%.5f", result.training.finalLoss))"
    }
}
