import Foundation
import NanoModels
import NanoTensor

/// The `distill` pass for byte-level BPE language models (the Llama family): the student is the
/// model entering the stage (already trimmed and pruned by earlier stages), trained in place on
/// windows of `sequence_length` tokens of `data` against its teachers' next-token distributions.
///
/// - `logit_kl`: T² · KL(teacher ‖ student), `reverse_kl`: T² · KL(student ‖ teacher), both on the
///   teacher's top `teacher_top_k` tokens plus one bucket for the rest (`Loss.topKDivergence`);
///   `task`: cross-entropy on the text's next tokens.
/// - Teacher and student must tokenize alike: every student token must be in the teacher's
///   vocabulary (a trimmed student's is a subset); teacher tokens the student lacks fall into
///   the rest bucket.
/// - Before the first step the teachers run once over every window the run will visit, and their
///   top-k distributions are kept (`TeacherTopKCache`; on disk with `teacher_cache`). Training
///   never runs a teacher, so the model entering the stage can be its own teacher, and a resumed
///   run reads exactly the values the first one computed.
extension DistillationPass {
    func distillLanguageModel(_ model: EvaluatedModel, _ student: any NextTokenLogitsModel, _ tokenizer: ByteLevelBPETokenizer,
                              _ teachers: [Teacher]) throws -> Result {
        try refuse([.embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL]) { kind in
            kind == .hiddenMSE ? "not available for language models yet; use logit_kl, reverse_kl and task"
                : "language models are distilled with logit_kl, reverse_kl and task"
        }
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
        if !divergences.isEmpty {
            let c = try TeacherTopKCache(path: options.teacherCache,
                                         teachers: teacherModels.map { $0.fingerprint(studentVocabulary: TeacherTopKCache.vocabularyFingerprint(vocabulary)) },
                                         studentVocabulary: TeacherTopKCache.vocabularyFingerprint(vocabulary), dataFile: options.training.data,
                                         windows: windows, length: length, k: options.teacherTopK, temperature: temperature)
            try fillTeacherDistributions(c, teachers: teacherModels, windows: Self.visitedWindows(batches, steps: loop.steps), inputs: inputs,
                                         temperature: temperature, trainingText: text)
            cache = c
        }
        let extra = try prepareStudent(model)
        var training = TrainingLoop(parameters: student.namedParameters + extra, configuration: loop, batches: batches)
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(model) } }
        training.progress = progress
        training.afterStep = afterStep
        let teacherWeights = weights(teachers)
        let v = student.vocabularySize
        let result = try training.run { batch, tape in
            let logits = student.nextTokenLogits(batch.flatMap(inputs), batch: batch.count, length: length, tape: tape)
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
                case .embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL: continue   // refused above
                }
            }
            return sum.value
        }
        return Result(student: model, training: result, examples: windows, teacherCache: nil, teacherTopKBytes: cache?.byteCount)
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
        var index: [String: Int] = [:]
        for (id, token) in tokenizer.tokens.enumerated() where index[token] == nil { index[token] = id }
        let teacherIds = try studentTokens.enumerated().map { id, token -> Int in
            guard let tid = index[token], tid < model.vocabularySize else {
                throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "its vocabulary lacks the student's token \(token.debugDescription) (id \(id)): the student's vocabulary must be the teacher's or a trim of it")
            }
            return tid
        }
        var studentIds = [Int32](repeating: -1, count: model.vocabularySize)
        for (s, tid) in teacherIds.enumerated() { studentIds[tid] = Int32(s) }
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
