import Testing
import NanoForge

/// "Each training pass lowers its loss on a tiny fixture": every training stage's report holds
/// its per-step losses, and the test of each pass (QAT, LSQ, gradual pruning, classifier and
/// decoder distillation; encoder distillation checks `TrainingLoop.Result` directly) calls this.
/// `steps` narrows the comparison to a window: gradual pruning raises the loss at each mask
/// update, so it is judged on its recovery after the last one.
func expectLossFell(_ stage: StageReport, steps: Range<Int>? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let training = stage.training else {
        Issue.record("stage \(stage.name) has no training record", sourceLocation: sourceLocation)
        return
    }
    let window = steps.map { Array(training.losses[$0]) } ?? training.losses
    guard window.count >= 4 else {
        Issue.record("stage \(stage.name): \(window.count) losses, too few to compare", sourceLocation: sourceLocation)
        return
    }
    // Means of the first and last tenth (at least one step each), so one noisy batch cannot decide.
    let k = max(1, window.count / 10)
    let first = window.prefix(k).reduce(0, +) / Double(k), last = window.suffix(k).reduce(0, +) / Double(k)
    #expect(last < first, "\(stage.name): loss \(first) → \(last) over \(window.count) steps", sourceLocation: sourceLocation)
}
