import Foundation
import NanoModels

/// The `distill` stage: teachers from the recipe (or the model entering the stage), the student
/// and training through `DistillationPass`, evaluation on the recipe's first task, checkpoints in
/// `<output.dir>.checkpoints/stage-<index>/`.
extension StageRunner {
    func distill(_ o: DistillOptions, index: Int, _ label: String, _ state: CompressionState) throws -> String {
        var files = [(o.training.data, "data")] + o.teachers.enumerated().map { ($0.element.path, "teachers[\($0.offset)].path") }
        if let config = o.config { files.append((config, "config")) }
        for (path, field) in files where !FileManager.default.fileExists(atPath: path) {
            throw PipelineError.missingFile(recipe: recipe.file, field: "\(label).\(field)", path: path)
        }
        let teachers = try o.teachers.isEmpty
            ? [DistillationPass.Teacher(model: state.model)]
            : o.teachers.map { DistillationPass.Teacher(model: try EvaluatedModel.load(path: $0.path, recipe: recipe.file).model, weight: $0.weight) }
        var pass = DistillationPass(options: o, loop: trainingLoop(o.training, index: index))
        // The score that picks the best state: the first evaluation task's first metric
        // (cosine_mean for fidelity), negated when lower is better (perplexity).
        if let task = tasks.first, let key = task.metricKeys.first {
            let (reference, log) = (self.reference, self.log)
            pass.evaluate = { model in
                let value = try task.evaluate(model, reference: reference)[key.rawValue] ?? -.infinity
                log("\(label): evaluation: \(task.name) \(key.rawValue) \(String(format: "%.4f", value))")
                return key.higherIsBetter ? value : -value
            }
        } else if o.training.evalEvery > 0 {
            log("\(label): eval_every is set but the recipe has no evaluation task; the final state is kept")
        }
        pass.progress = trainingProgress(label)
        let teacherParameters = state.model.container.parameterCount
        let result = try train(pass, label, state, teachers: teachers)
        if let resumed = result.training.resumedFrom { log("\(label): resumed from the checkpoint at step \(resumed)") }
        state.model = result.student
        // Every student layer is new and trained, so packed forms, weight errors and activation
        // scales recorded for the entering model describe none of it any more.
        state.quantized = [:]
        state.weightErrors = [:]
        state.activationQuantization = [:]
        var summary = "student \(result.parameterCount) parameters (teacher \(teacherParameters))"
        if let e = result.student.sentenceEncoder { summary += ", \(e.encoder.configuration.layers) layers" }
        summary += ", \(result.training.steps) steps on \(result.examples) examples, final loss \(String(format: "%.5f", result.training.finalLoss))"
        if let score = result.training.bestScore, let step = result.training.bestStep {
            summary += ", best score \(String(format: "%.4f", score)) at step \(step)"
        }
        return summary
    }
}
