import Foundation
import NanoModels
import NanoTensor

/// The `distill` pass for character-level decoders: the student (a fresh decoder from `config`,
/// or a copy of the model entering the stage) learns the teachers' next-character distributions
/// (`logit_kl` at temperature T over every position) and the text itself (`task`: next-character
/// cross-entropy). Training examples are the consecutive windows of the student's context length
/// in the text of `data` (unlabelled; characters outside the vocabulary are dropped).
extension DistillationPass {
    func distillDecoder(_ base: GPTDecoder, _ vocabulary: CharacterVocabulary, _ teachers: [Teacher]) throws -> Result {
        try refuse([.embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL, .reverseKL]) { _ in "character decoders are distilled with logit_kl and task" }
        if let key = [("layers", options.layers != nil), ("hidden", options.hidden != nil), ("intermediate", options.intermediate != nil),
                      ("heads", options.heads != nil)].first(where: \.1)?.0 {
            throw TrainingError.unsupported(option: key, reason: "applies to BERT students; describe a decoder student with `config`")
        }
        let student = try decoderStudent(base, vocabulary)
        let length = student.configuration.contextLength
        let teacherModels = try teachers.enumerated().map { i, t -> GPTDecoder in
            guard let m = t.model.as(GPTDecoder.self), let v = t.model.decoder?.vocabulary, v == vocabulary, m.configuration.contextLength >= length else {
                throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "needs a decoder with the student's \(vocabulary.count)-character vocabulary and a context of at least \(length)")
            }
            return m
        }
        let extra = try prepareStudent(.decoder(student, vocabulary))
        let tokens = try Self.characters(options.training.data, vocabulary: vocabulary, window: length)
        let windows = (tokens.count - 1) / length
        var training = TrainingLoop(parameters: student.namedParameters + extra, configuration: loop,
                                    batches: TrainingBatches(count: windows, batchSize: loop.batchSize, seed: loop.seed))
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(.decoder(student, vocabulary)) } }
        training.progress = progress
        training.afterStep = afterStep
        let teacherWeights = weights(teachers)
        let v = vocabulary.count
        let result = try training.run { batch, tape in
            // Window w predicts tokens[w·L + 1 … w·L + L] from tokens[w·L ..< w·L + L].
            let inputs = batch.flatMap { tokens[($0 * length)..<($0 * length + length)] }
            let logits = student(inputs, batch: batch.count, length: length, tape: tape)   // [B, L, V]
            var sum = WeightedLossSum()
            func add(_ term: Variable, _ weight: Float) { sum.add(term, weight: weight, tape: tape) }
            for loss in options.losses {
                switch loss.kind {
                case .task:
                    let targets = batch.flatMap { tokens[($0 * length + 1)...($0 * length + length)] }
                    add(Loss.crossEntropy(logits, targets: targets, tape: tape), Float(loss.weight))
                case .logitKL:
                    let flat = tape.reshape(logits, [batch.count * length, v])
                    for (t, teacher) in teacherModels.enumerated() {
                        let teacherLogits = teacher(inputs, batch: batch.count, length: length, tape: Tape(recording: false)).value
                        add(DistillationLosses.logitKL(student: flat, teacher: teacherLogits.reshaped([batch.count * length, v]),
                                                       temperature: Float(loss.temperature), tape: tape),
                            Float(loss.weight) * teacherWeights[t])
                    }
                case .embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL, .reverseKL: continue   // refused above
                }
            }
            return sum.value
        }
        return Result(student: .decoder(student, vocabulary), training: result, examples: windows)
    }

    /// A fresh decoder of `config` (same vocabulary as the teacher), or a copy of `base`.
    func decoderStudent(_ base: GPTDecoder, _ vocabulary: CharacterVocabulary) throws -> GPTDecoder {
        var c = base.configuration
        if let file = options.config {
            guard let parsed = try StudentBuilder.configuration(file: file).configuration(as: GPTDecoder.Configuration.self) else {
                throw TrainingError.unsupported(option: "config", reason: "\(file) does not describe a GPT decoder, the teacher is one")
            }
            guard parsed.vocabularySize == vocabulary.count, parsed.characters == nil || parsed.characters == vocabulary.characters else {
                throw TrainingError.unsupported(option: "config", reason: "\(file) must have the teacher's vocabulary of \(vocabulary.count) characters (vocabularySize, characters)")
            }
            c = parsed
            c.characters = vocabulary.characters
        }
        let student = StudentBuilder.fresh(c, seed: loop.seed)
        if options.config == nil {
            for ((_, to), (_, from)) in zip(student.namedParameters, base.namedParameters) { to.value = from.value }
        }
        return student
    }

    /// The text of `file` as token ids of `vocabulary`; at least one window of `window` + 1.
    static func characters(_ file: String, vocabulary: CharacterVocabulary, window: Int) throws -> [Int] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw TrainingError.noTrainingData(file: file, reason: "cannot read it as UTF-8 text")
        }
        let tokens = vocabulary.encode(text)
        guard tokens.count > window else {
            throw TrainingError.noTrainingData(file: file, reason: "\(tokens.count) characters of the vocabulary, fewer than one window of \(window + 1)")
        }
        return tokens
    }
}
