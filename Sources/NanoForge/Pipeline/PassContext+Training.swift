import Foundation
import NanoModels
import NanoQuant

/// What the training passes (`distill`, `qat`, `prune` with a schedule) share: the loop's
/// checkpoint settings, progress lines, the recovery losses of fine-tuning a copy of the model,
/// and error mapping.
extension PassContext {
    /// The loop configuration of this stage: the recipe's seed, checkpoints in
    /// `<output.dir>.checkpoints/stage-<index>/`, and `--resume`.
    func trainingLoop(_ training: TrainingOptions) -> TrainingLoop.Configuration {
        var loop = TrainingLoop.Configuration(training, seed: recipe.seed)
        loop.checkpointDirectory = checkpointRoot.map { ($0 as NSString).appendingPathComponent("stage-\(index)") }
        loop.resume = resume
        return loop
    }

    /// A progress callback that logs step, loss, throughput and ETA about every 10 s and at the end.
    func trainingProgress(_ label: String) -> (TrainingLoop.Progress) -> Void {
        let clock = ContinuousClock(), log = self.log
        var lastLog = clock.now
        return { p in
            guard clock.now - lastLog >= .seconds(10) || p.step == p.steps else { return }
            lastLog = clock.now
            log("\(label): step \(p.step)/\(p.steps), loss \(String(format: "%.5f", p.loss)), \(String(format: "%.1f", p.examplesPerSecond)) examples/s, ETA \(Int(p.secondsLeft.rounded())) s")
        }
    }

    /// A pass that fine-tunes a copy of the model entering the stage against it (QAT, gradual
    /// pruning): embedding cosine + MSE for sentence encoders, logit KL for classifiers, plus the
    /// labels' cross-entropy when `labels` (gradual pruning; QAT only reproduces the teacher).
    /// `label` is the recipe path of the training settings.
    func recoveryPass(_ training: TrainingOptions, label: String, _ state: CompressionState,
                      labels: Bool = true) throws -> DistillationPass {
        guard FileManager.default.fileExists(atPath: training.data) else {
            throw PipelineError.missingFile(recipe: recipe.file, field: "\(label).data", path: training.data)
        }
        let losses: [DistillPass.Loss]
        switch state.model.tasks.first {
        case .sentenceEmbedding?, nil: losses = [.init(kind: .embeddingCosine), .init(kind: .embeddingMSE, weight: 100)]
        case .classLogits?: losses = [.init(kind: .logitKL)] + (labels ? [.init(kind: .task)] : [])
        case .nextTokenLogits?: throw PipelineError.stageFailed(recipe: recipe.file, stage: label, reason: "decoders cannot be trained by recipes yet")
        }
        var pass = DistillationPass(options: DistillPass(losses: losses, training: training), loop: trainingLoop(training))
        pass.progress = trainingProgress(label)
        return pass
    }

    /// Runs `pass` with the teachers given (default: the model entering the stage), mapping
    /// training and pruning errors to a `PipelineError` naming the stage.
    func train(_ pass: DistillationPass, _ state: CompressionState,
               teachers: [DistillationPass.Teacher]? = nil) throws -> DistillationPass.Result {
        do {
            let result = try pass.run(model: state.model, teachers: teachers ?? [DistillationPass.Teacher(model: state.model)])
            state.training = StageReport.Training(result.training)
            return result
        } catch let error as TrainingError {
            throw failure(error.description)
        } catch let error as PruningError {
            throw failure("\(error)")
        }
    }
}
