import Foundation
import NanoModels
import NanoTensor

/// The `distill` pass for byte-level BPE language models (the Llama family): the student is the
/// model entering the stage (already trimmed and pruned by earlier stages), trained in place on
/// windows of `sequence_length` tokens of `data` against its teachers' next-token distributions.
///
/// - `logit_kl`: T² · KL(teacher ‖ student), `reverse_kl`: T² · KL(student ‖ teacher), both on the
///   teacher's top `teacher_top_k` tokens plus one bucket for the rest (`Loss.topKDivergence`);
///   `task`: cross-entropy on the text's next tokens; `hidden_mse`: the mean squared error of the
///   last hidden states after the final norm (`HiddenStatesLanguageModel`), through a learned
///   projection when the student's width differs from the teacher's (trained with the student,
///   not exported; it starts as the least-squares fit of the teacher's hidden states from the
///   student's on the first visited windows, `leastSquaresProjection`). After the final norm, not
///   before: that is what the output head reads, so with the teacher's head (a pruned student
///   keeps it) matching it matches the logits; and the norm removes the residual stream's
///   growing scale and its few huge channels, which would otherwise dominate a squared error.
/// - Teacher and student must tokenize alike: every student token must be in the teacher's
///   vocabulary (a trimmed student's is a subset); teacher tokens the student lacks fall into
///   the rest bucket.
/// - Before the first step the teachers run once over every window the run will visit, and their
///   top-k distributions (and with `hidden_mse` their hidden states, as Float16) are kept
///   (`TeacherTopKCache`; on disk with `teacher_cache`). Training
///   never runs a teacher, so the model entering the stage can be its own teacher, and a resumed
///   run reads exactly the values the first one computed.
extension DistillationPass {
    func distillLanguageModel(_ model: EvaluatedModel, _ student: any NextTokenLogitsModel, _ tokenizer: ByteLevelBPETokenizer,
                              _ teachers: [Teacher]) throws -> Result {
        try refuse([.embeddingCosine, .embeddingMSE, .attentionKL]) { _ in "language models are distilled with logit_kl, reverse_kl, hidden_mse and task" }
        if let key = [("layers", options.layers != nil), ("hidden", options.hidden != nil), ("intermediate", options.intermediate != nil),
                      ("heads", options.heads != nil), ("config", options.config != nil)].first(where: \.1)?.0 {
            throw TrainingError.unsupported(option: key, reason: "a language-model student is the model entering the stage: shrink it with prune_structured (and trim_vocabulary) in earlier stages")
        }
        let divergences = options.losses.filter { $0.kind == .logitKL || $0.kind == .reverseKL }
        let temperature = Float(divergences.first?.temperature ?? 1)
        guard divergences.allSatisfy({ Float($0.temperature) == temperature }) else {
            throw TrainingError.unsupported(option: "losses.temperature", reason: "logit_kl and reverse_kl of a language model share one temperature (the teachers' distributions are computed once)")
        }
        let vocabulary = tokenizer.tokens
        let teacherModels = try teachers.enumerated().map { i, t -> TopKTeacher in
            if let endpoint = t.endpoint {
                let e = try EndpointTeacher(endpoint, tokenizer: tokenizer, seed: loop.seed &+ UInt64(i))
                e.log = log
                return .endpoint(e)
            }
            return .local(try Self.languageModelTeacher(t, index: i, studentTokens: vocabulary))
        }
        let hiddenLoss = options.losses.contains { $0.kind == .hiddenMSE }
        var hiddenStudent: HiddenStatesLanguageModel?, teacherWidth: Int?
        if hiddenLoss {
            let models = try hiddenStatesModels(student, teacherModels)
            (hiddenStudent, teacherWidth) = (models.student, models.teacherWidth)
        }
        let length = ([options.sequenceLength, student.contextLength] + teacherModels.compactMap(\.local?.model.contextLength)).min()!
        guard let text = try? String(contentsOfFile: options.training.data, encoding: .utf8) else {
            throw TrainingError.noTrainingData(file: options.training.data, reason: "cannot read it as UTF-8 text")
        }
        let tokens = tokenizer.encode(text, allowSpecial: false)
        // Windows start with BOS when the tokenizer adds one (as llama.cpp's chunks do).
        let bos = tokenizer.addsBOS ? tokenizer.bosID : nil
        let stride = length - (bos == nil ? 0 : 1)
        let windows = stride > 0 ? (tokens.count - 1) / stride : 0
        guard windows > 0 else {
            throw TrainingError.noTrainingData(file: options.training.data, reason: "\(tokens.count) tokens, fewer than one window of \(length + 1)")
        }
        func inputs(_ w: Int) -> [Int] { (bos.map { [$0] } ?? []) + tokens[(w * stride)..<(w * stride + stride)] }
        func targets(_ w: Int) -> ArraySlice<Int> { tokens[(w * stride + (bos == nil ? 1 : 0))...(w * stride + stride)] }

        let batches = TrainingBatches(count: windows, batchSize: loop.batchSize, seed: loop.seed)
        var cache: TeacherTopKCache?
        if !divergences.isEmpty || hiddenLoss {
            let c = try TeacherTopKCache(path: options.teacherCache,
                                         teachers: teacherModels.map { $0.fingerprint(studentVocabulary: TeacherTopKCache.vocabularyFingerprint(vocabulary)) },
                                         studentVocabulary: TeacherTopKCache.vocabularyFingerprint(vocabulary), dataFile: options.training.data,
                                         windows: windows, length: length, k: options.teacherTopK, temperature: temperature, hiddenWidth: teacherWidth)
            try fillTeacherDistributions(c, teachers: teacherModels, windows: Self.visitedWindows(batches, steps: loop.steps), inputs: inputs,
                                         temperature: temperature, trainingText: text)
            cache = c
        }
        let extra = try prepareStudent(model)
        // One projection for all teachers (they share a width); its random fallback is seeded apart from the batches.
        var rng = RandomGenerator(seed: loop.seed &+ 0x9807)
        var projection: Linear?
        if let s = hiddenStudent, let t = teacherWidth, t != s.hiddenStateWidth, let cache {
            // Fitted on (up to) the first 8 windows the run visits, to the teachers' weighted mean.
            let fit = Array(Self.visitedWindows(batches, steps: loop.steps).prefix(8))
            let studentHidden = s.nextTokenLogitsAndHiddenStates(fit.flatMap(inputs), batch: fit.count, length: length, tape: Tape(recording: false)).hidden.value
            var target = Tensor.zeros([fit.count * length, t])
            for (i, w) in weights(teachers).enumerated() {
                target = target + cache.hiddenStates(teacher: i, windows: fit).reshaped([fit.count * length, t]) * w
            }
            projection = Self.leastSquaresProjection(student: studentHidden.reshaped([fit.count * length, s.hiddenStateWidth]), teacher: target)
                ?? Self.projection(s.hiddenStateWidth, t, channels: nil, rng: &rng)
        }
        let projectionParameters = projection?.namedParameters.map { ("distill.projection.\($0.name)", $0.variable) } ?? []
        var training = TrainingLoop(parameters: student.namedParameters + extra + projectionParameters, configuration: loop, batches: batches)
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(model) } }
        training.progress = progress
        training.afterStep = afterStep
        let teacherWeights = weights(teachers)
        let v = student.vocabularySize
        let result = try training.run { batch, tape in
            let logits: Variable, hidden: Variable?
            if let hiddenStudent {
                (logits, hidden) = hiddenStudent.nextTokenLogitsAndHiddenStates(batch.flatMap(inputs), batch: batch.count, length: length, tape: tape)
            } else {
                (logits, hidden) = (student.nextTokenLogits(batch.flatMap(inputs), batch: batch.count, length: length, tape: tape), nil)
            }
            let flat = tape.reshape(logits, [batch.count * length, v])
            var sum = WeightedLossSum()
            for loss in options.losses {
                switch loss.kind {
                case .task:
                    sum.add(Loss.crossEntropy(flat, targets: batch.flatMap(targets), tape: tape), weight: Float(loss.weight), tape: tape)
                case .logitKL, .reverseKL:
                    for t in teacherModels.indices {
                        let teacher = TopKDistribution.concatenating(batch.map { cache!.distribution(teacher: t, window: $0) })
                        let term = Loss.topKDivergence(student: flat, teacher: teacher, direction: loss.kind == .logitKL ? .forward : .reverse,
                                                       temperature: temperature, tape: tape)
                        sum.add(term, weight: Float(loss.weight) * teacherWeights[t], tape: tape)
                    }
                case .hiddenMSE:
                    let everyPosition = Tensor.ones([batch.count, length])
                    for t in teacherModels.indices {
                        let term = DistillationLosses.hiddenMSE(student: hidden!, teacher: cache!.hiddenStates(teacher: t, windows: batch),
                                                                attentionMask: everyPosition, projection: projection, tape: tape)
                        sum.add(term, weight: Float(loss.weight) * teacherWeights[t], tape: tape)
                    }
                case .embeddingCosine, .embeddingMSE, .attentionKL: continue   // refused above
                }
            }
            return sum.value
        }
        return Result(student: model, training: result, examples: windows, teacherCache: nil, teacherTopKBytes: cache?.byteCount)
    }

    /// `hidden_mse`'s models: the student and every teacher must give hidden states
    /// (`HiddenStatesLanguageModel`; an endpoint teacher cannot), and the teachers share one width.
    func hiddenStatesModels(_ student: any NextTokenLogitsModel, _ teachers: [TopKTeacher]) throws
        -> (student: HiddenStatesLanguageModel, teacherWidth: Int) {
        guard let s = student as? HiddenStatesLanguageModel else {
            throw TrainingError.unsupported(option: "losses.hidden_mse", reason: "the student gives no hidden states (\(type(of: student)))")
        }
        let widths = try teachers.enumerated().map { i, t -> Int in
            guard let local = t.local, let m = local.model as? HiddenStatesLanguageModel else {
                throw TrainingError.unsupported(option: "losses.hidden_mse", reason: "teachers[\(i)] gives no hidden states (an endpoint teacher sends log-probabilities only)")
            }
            return m.hiddenStateWidth
        }
        guard let width = widths.first, widths.allSatisfy({ $0 == width }) else {
            throw TrainingError.unsupported(option: "losses.hidden_mse", reason: "the teachers' hidden widths differ (\(widths)); distil from teachers of one width")
        }
        return (s, width)
    }

    /// A teacher as the language-model path uses it: its model, tokens, and the student id of each
    /// of its token ids (−1: the student lacks it).
    struct LanguageModelTeacher {
        let model: any NextTokenLogitsModel
        let tokens: [String]
        let studentIds: [Int32]
        let teacherIds: [Int]   // per student id
    }

    static func languageModelTeacher(_ t: Teacher, index i: Int, studentTokens: [String]) throws -> LanguageModelTeacher {
        guard case .byteLevelBPE(let tokenizer)? = t.model.input, let model = t.model.model?.container as? NextTokenLogitsModel else {
            throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "a language-model student needs byte-level BPE language-model teachers, found a \(t.model.kindName)")
        }
        let mapping: VocabularyMapping
        do {
            mapping = try VocabularyMapping(smaller: studentTokens, larger: tokenizer.tokens, largerRows: model.vocabularySize)
        } catch let missing as VocabularyMapping.MissingToken {
            throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "its vocabulary lacks the student's token \(missing.token.debugDescription) (id \(missing.id)): the student's vocabulary must be the teacher's or a trim of it")
        }
        let (studentIds, teacherIds) = (mapping.smallerIds, mapping.largerIds)
        return LanguageModelTeacher(model: model, tokens: tokenizer.tokens, studentIds: studentIds, teacherIds: teacherIds)
    }

    /// The windows that steps 0..<steps draw, ascending.
    static func visitedWindows(_ batches: TrainingBatches, steps: Int) -> [Int] {
        var seen = Set<Int>()
        var epoch = -1, current: [[Int]] = []
        for s in 0..<steps {
            let (e, b) = batches.position(ofStep: s)
            if e != epoch { epoch = e; current = batches.epoch(e) }
            seen.formUnion(current[b])
            if seen.count == batches.count { break }
        }
        return seen.sorted()
    }

    /// A language-model teacher as the top-k cache is filled from it: a local model, or one behind an endpoint.
    enum TopKTeacher {
        case local(LanguageModelTeacher)
        case endpoint(EndpointTeacher)

        var local: LanguageModelTeacher? { if case .local(let t) = self { return t }; return nil }

        func fingerprint(studentVocabulary: String) -> String {
            switch self {
            case .local(let t): return TeacherTopKCache.fingerprint(t.model, tokens: t.tokens)
            case .endpoint(let e): return e.fingerprint(studentVocabulary: studentVocabulary)
            }
        }
    }
}
