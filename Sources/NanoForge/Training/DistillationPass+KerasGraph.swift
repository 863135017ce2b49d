import Foundation
import NanoModels
import NanoTensor

/// Distillation of a Keras image classifier: the student is a copy of the model entering the
/// stage (a pruned graph recovers from its unpruned teacher this way), trained on the teachers'
/// softened logits (`logit_kl`; no labels are needed). `data` holds image rows as data.calibration
/// does (`[id<TAB>]features`); with `augment` each image is changed anew every step
/// (`ImageAugmentation`, drawn from the seed and the step, so a resumed run draws the same).
/// BatchNormalization keeps its moving statistics: only γ, β and the convolution weights train.
extension DistillationPass {
    func distillKerasGraph(_ base: KerasGraphModel, _ teachers: [Teacher]) throws -> Result {
        try refuse([.embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL, .reverseKL, .task]) { _ in
            "a Keras image classifier is distilled with logit_kl (its training images carry no labels)"
        }
        if let key = [("layers", options.layers != nil), ("hidden", options.hidden != nil), ("intermediate", options.intermediate != nil),
                      ("heads", options.heads != nil), ("teacher_cache", options.teacherCache != nil), ("config", options.config != nil)].first(where: \.1)?.0 {
            throw TrainingError.unsupported(option: key, reason: "a Keras graph's student is a copy of the model entering the stage (prune it with prune_structured first)")
        }
        let teacherModels = try teachers.enumerated().map { i, t -> any ClassLogitsModel in
            guard let m = t.model.classifier, m.featureCount == base.featureCount, m.classCount == base.classCount else {
                throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "needs an image classifier with \(base.featureCount) inputs and \(base.classCount) classes")
            }
            return m
        }
        let student = Self.copy(base)
        let studentModel = EvaluatedModel(LoadedModel.kerasGraph(student), input: .features)
        let extra = try prepareStudent(studentModel)
        let file = options.training.data
        let rows = try Self.imageRows(file, features: base.featureCount)
        let shape = base.configuration.inputShape
        guard !options.augment || shape.count == 3 else {
            throw TrainingError.unsupported(option: "augment", reason: "the model's input \(shape) is not an image [height, width, channels]")
        }
        // Moving statistics are stored, not trained: weight decay must not shrink them.
        let trainable = student.namedParameters.filter(\.variable.requiresGrad)
        var training = TrainingLoop(parameters: trainable + extra, configuration: loop,
                                    batches: TrainingBatches(count: rows.count, batchSize: loop.batchSize, seed: loop.seed))
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(studentModel) } }
        training.progress = progress
        // The step about to run, for the augmentation draws (from the checkpoint when resuming).
        var step = 0
        if loop.resume, let folder = loop.checkpointDirectory, let checkpoint = try TrainingCheckpoint.read(from: folder) {
            step = checkpoint.state.step
        }
        training.afterStep = { [afterStep = self.afterStep] s in
            step = s
            try afterStep?(s)
        }
        let teacherWeights = weights(teachers)
        let augmentation = ImageAugmentation()
        let result = try training.run { batch, tape in
            var rng = RandomGenerator(seed: loop.seed &+ 0x1A6E &+ UInt64(step) &* 0x9E37_79B9)
            let images = batch.flatMap { i in
                options.augment ? augmentation.draw(i, of: rows, height: shape[0], width: shape[1], channels: shape[2], rng: &rng) : rows[i]
            }
            let x = Tensor(shape: [batch.count, base.featureCount], scalars: images)
            let logits = student.classLogits(tape.constant(x), tape: tape)
            var sum = WeightedLossSum()
            for loss in options.losses where loss.kind == .logitKL {
                for (t, teacher) in teacherModels.enumerated() {
                    let teacherLogits = teacher.classLogits(Variable(x), tape: Tape(recording: false)).value
                    sum.add(DistillationLosses.logitKL(student: logits, teacher: teacherLogits, temperature: Float(loss.temperature), tape: tape),
                            weight: Float(loss.weight) * teacherWeights[t], tape: tape)
                }
            }
            return sum.value
        }
        return Result(student: studentModel, training: result, examples: rows.count)
    }

    /// A new graph with `model`'s configuration (its current widths) and a copy of its weights.
    static func copy(_ model: KerasGraphModel) -> KerasGraphModel {
        var rng = RandomGenerator(seed: 0)
        let copy = KerasGraphModel(KerasGraphArchitecture.configuration(of: model), rng: &rng)
        let source = Dictionary(model.namedParameters.map { ($0.name, $0.variable) }, uniquingKeysWith: { a, _ in a })
        for (name, variable) in copy.namedParameters {
            guard let from = source[name] else { preconditionFailure("DistillationPass: the copy of the Keras graph has \(name), the model does not") }
            variable.value = from.value
        }
        return copy
    }

    /// Image rows of `file`: each non-blank line's features (the last tab-separated field), `features` values each.
    static func imageRows(_ file: String, features: Int) throws -> [[Float]] {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw TrainingError.noTrainingData(file: file, reason: "cannot read it")
        }
        let rows = try EvaluationData.inputs(file).enumerated().map { i, line in try EvaluationData.features(line, file: file, line: i + 1) }
        if let i = rows.firstIndex(where: { $0.count != features }) {
            throw TrainingError.badTrainingLine(file: file, line: i + 1, reason: "\(rows[i].count) features, the model takes \(features)")
        }
        guard !rows.isEmpty else { throw TrainingError.noTrainingData(file: file, reason: "no rows") }
        return rows
    }
}
