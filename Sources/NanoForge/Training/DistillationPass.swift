import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// The `distill` pass: trains a student from one or more weighted teachers through the shared
/// `TrainingLoop`. Sentence encoders learn the teachers' pooled embeddings (`embedding_cosine`,
/// `embedding_mse`) and last hidden states (`hidden_mse`); classifiers their softened logits
/// (`logit_kl`, Hinton et al.) and the labels (`task`); `attention_kl` matches the last layer's
/// attention distributions (MiniLM). Teacher outputs are computed per batch on a non-recording
/// tape, or read from `teacher_cache`. A student narrower than a teacher is compared through a
/// learned projection (`DistillationPass+Width`). The loss of a step is
/// Σ_teachers w_t/Σw · Σ_terms w_k · L_k.
public struct DistillationPass {
    public struct Teacher {
        /// A local model, or (language models) a model behind an OpenAI-compatible endpoint.
        public enum Source { case model(EvaluatedModel), endpoint(EndpointTeacherOptions) }
        public var source: Source
        public var weight: Double
        public init(model: EvaluatedModel, weight: Double = 1) { source = .model(model); self.weight = weight }
        public init(endpoint: EndpointTeacherOptions, weight: Double = 1) { source = .endpoint(endpoint); self.weight = weight }

        /// The local model; `run` refuses endpoint teachers for every family but language models,
        /// whose path reads `source`.
        public var model: EvaluatedModel {
            guard case .model(let m) = source else { preconditionFailure("DistillationPass: an endpoint teacher has no local model") }
            return m
        }
        public var endpoint: EndpointTeacherOptions? { if case .endpoint(let e) = source { return e }; return nil }
    }

    public struct Result {
        public var student: EvaluatedModel
        public var training: TrainingLoop.Result
        public var examples: Int
        /// Batches served from / missing in the teacher cache (nil without `teacher_cache`).
        public var teacherCache: (hits: Int, misses: Int)?
        /// Bytes of the language-model teachers' top-k distributions (nil for other families).
        public var teacherTopKBytes: Int?
        public var parameterCount: Int { student.container.parameterCount }
    }

    public var options: DistillPass
    public var loop: TrainingLoop.Configuration
    /// Scores a student (higher is better) every `eval_every` steps; the best is kept.
    public var evaluate: ((EvaluatedModel) throws -> Double)?
    public var progress: (TrainingLoop.Progress) -> Void = { _ in }
    /// Lines about work outside the training steps (the language-model teachers' pass).
    public var log: (String) -> Void = { _ in }
    /// Called with the student before training starts (QAT installs its fake quantization here);
    /// returns trainable parameters of its own that train beside the student's (LSQ's scales).
    public var prepareStudent: (EvaluatedModel) throws -> [(name: String, variable: Variable)] = { _ in [] }
    /// Called after every optimizer step with the step count (scheduled pruning updates and
    /// re-applies its masks here).
    public var afterStep: ((Int) throws -> Void)?
    /// How often a language model's teacher cache is saved while it fills (and always at the end
    /// or on a teacher's failure), so a killed run loses at most this much fetching.
    public var teacherCacheSaveInterval: Duration = .seconds(30)

    public init(options: DistillPass, loop: TrainingLoop.Configuration) {
        self.options = options; self.loop = loop
    }

    /// The recipe's options with its seed.
    public init(options: DistillPass, seed: UInt64) {
        self.init(options: options, loop: TrainingLoop.Configuration(options.training, seed: seed))
    }

    /// Builds the student from `model` (the model entering the stage) and trains it on the teachers.
    public func run(model: EvaluatedModel, teachers: [Teacher]) throws -> Result {
        precondition(!teachers.isEmpty, "distill: at least one teacher")
        if options.augment && model.as(KerasGraphModel.self) == nil {
            throw TrainingError.unsupported(option: "augment", reason: "applies to image classifiers (Keras graphs)")
        }
        let languageModel: Bool = { if case .byteLevelBPE? = model.input { return model.model?.container is NextTokenLogitsModel }; return false }()
        if !languageModel, let i = teachers.firstIndex(where: { $0.endpoint != nil }) {
            throw TrainingError.unsupported(option: "teachers[\(i)].endpoint", reason: "teachers behind an endpoint distil byte-level BPE language models only, found a \(model.kindName) student")
        }
        // Students are built per family (layer-dropping BERT, narrower MLPs and decoders).
        if let encoder = model.sentenceEncoder { return try distillEncoder(encoder, teachers) }
        if let classifier = model.as(MLPClassifier.self) { return try distillClassifier(classifier, teachers) }
        if let graph = model.as(KerasGraphModel.self) { return try distillKerasGraph(graph, teachers) }
        if let decoder = model.as(GPTDecoder.self), let vocabulary = model.decoder?.vocabulary {
            return try distillDecoder(decoder, vocabulary, teachers)
        }
        if case .byteLevelBPE(let tokenizer)? = model.input, let decoder = model.model?.container as? NextTokenLogitsModel {
            return try distillLanguageModel(model, decoder, tokenizer, teachers)
        }
        let reason = model.model == nil ? "the packed runtime's encoder has no trainable parameters"
            : "nanoforge builds no distillation student for a \(model.spec.architectureName) model"
        throw TrainingError.unsupported(option: "distill", reason: reason)
    }

    func weights(_ teachers: [Teacher]) -> [Float] {
        let total = teachers.reduce(0) { $0 + $1.weight }
        return teachers.map { Float($0.weight / total) }
    }

    func refuse(_ kinds: Set<DistillPass.LossKind>, _ reason: (DistillPass.LossKind) -> String) throws {
        if let loss = options.losses.first(where: { kinds.contains($0.kind) }) {
            throw TrainingError.unsupported(option: "losses.\(loss.kind.rawValue)", reason: reason(loss.kind))
        }
    }

    // MARK: sentence encoders

    func distillEncoder(_ base: SentenceEncoder, _ teachers: [Teacher]) throws -> Result {
        try refuse([.logitKL, .task, .reverseKL]) { _ in "sentence encoders have no logits or labels; use embedding_cosine, embedding_mse or hidden_mse" }
        let teacherEncoders = try teachers.enumerated().map { i, t -> SentenceEncoder in
            guard let e = t.model.sentenceEncoder else {
                throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "a sentence-encoder student needs sentence-encoder teachers, found a \(t.model.kindName)")
            }
            return e
        }
        let (student, channels) = try encoderStudent(base)
        let extra = try prepareStudent(.sentenceEncoder(student))
        let sentences = try Self.sentences(options.training.data)
        let tokens = sentences.map { student.tokenizer.encode($0, maxLength: student.maxLength) }
        let sameTokens = teacherEncoders.map { $0.tokenizer.vocabulary == student.tokenizer.vocabulary && $0.maxLength == student.maxLength }
        let kinds = Set(options.losses.map(\.kind))
        let width = student.encoder.configuration.width
        var rng = RandomGenerator(seed: loop.seed &+ 0x9807)
        var projections: [Linear?] = []
        for (i, teacher) in teacherEncoders.enumerated() {
            for kind in [DistillPass.LossKind.hiddenMSE, .attentionKL] where kinds.contains(kind) && !sameTokens[i] {
                throw TrainingError.unsupported(option: "losses.\(kind.rawValue)", reason: "teachers[\(i)] tokenizes differently from the student, so token positions do not align")
            }
            let teacherWidth = teacher.encoder.configuration.width
            let projects = teacherWidth != width && !kinds.isDisjoint(with: [.embeddingCosine, .embeddingMSE, .hiddenMSE])
            projections.append(projects ? Self.projection(width, teacherWidth, channels: channels, rng: &rng) : nil)
        }
        let attention = kinds.contains(.attentionKL) ? LastLayerAttention(student: student.encoder, teachers: teacherEncoders.map(\.encoder)) : nil
        defer { attention?.remove() }
        let needsTeacherForward = kinds.contains(.hiddenMSE) || kinds.contains(.attentionKL)
        let cache = try options.teacherCache.map {
            try TeacherCache(path: $0, teachers: teacherEncoders, dataFile: options.training.data, sentenceCount: sentences.count)
        }
        var parameters = student.encoder.namedParameters + extra
        for (i, p) in projections.enumerated() { if let p { parameters += p.namedParameters.map { ("distill.projection.\(i).\($0.name)", $0.variable) } } }
        var configuration = loop
        configuration.batchSize = options.training.batchSize
        var training = TrainingLoop(parameters: parameters, configuration: configuration,
                                    batches: TrainingBatches(count: sentences.count, batchSize: configuration.batchSize,
                                                             lengths: tokens.map(\.count), seed: loop.seed))
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(.sentenceEncoder(student)) } }
        training.progress = progress
        training.afterStep = afterStep
        let teacherWeights = weights(teachers)
        let result = try training.run { batch, tape in
            let b = student.batch(tokenIds: batch.map { tokens[$0] })
            let hidden = student.encoder(b.ids, attentionMask: b.attentionMask, tape: tape)
            let embeddings = SentencePooling.sentenceEmbeddings(hidden, attentionMask: b.attentionMask, tape: tape)
            let studentScores = attention?.studentScores
            let projected = projections.map { p in p.map { $0(embeddings, tape: tape) } ?? embeddings }
            var sum = WeightedLossSum()
            for (t, teacher) in teacherEncoders.enumerated() {
                var teacherEmbeddings = needsTeacherForward ? nil : cache?.embeddings(teacher: t, rows: batch)
                var teacherHidden: Variable?
                if teacherEmbeddings == nil {
                    let tb = sameTokens[t] ? b : teacher.batch(batch.map { sentences[$0] })
                    let quiet = Tape(recording: false)
                    let h = teacher.encoder(tb.ids, attentionMask: tb.attentionMask, tape: quiet)
                    let e = SentencePooling.sentenceEmbeddings(h, attentionMask: tb.attentionMask, tape: quiet).value
                    cache?.store(teacher: t, rows: batch, e)
                    (teacherHidden, teacherEmbeddings) = (h, e)
                }
                for loss in options.losses {
                    let term: Variable
                    switch loss.kind {
                    case .embeddingCosine: term = DistillationLosses.embeddingCosine(student: projected[t], teacher: teacherEmbeddings!, tape: tape)
                    case .embeddingMSE: term = DistillationLosses.embeddingMSE(student: projected[t], teacher: teacherEmbeddings!, tape: tape)
                    case .hiddenMSE:
                        term = DistillationLosses.hiddenMSE(student: hidden, teacher: teacherHidden!.value, attentionMask: b.attentionMask,
                                                            projection: projections[t], tape: tape)
                    case .attentionKL:
                        term = DistillationLosses.attentionKL(student: studentScores!, teacher: attention!.teacherScores[t]!,
                                                              attentionMask: b.attentionMask, temperature: Float(loss.temperature), tape: tape)
                    case .logitKL, .task, .reverseKL: continue   // refused above
                    }
                    sum.add(term, weight: teacherWeights[t] * Float(loss.weight), tape: tape)
                }
            }
            return sum.value
        }
        try cache?.save()
        return Result(student: .sentenceEncoder(student), training: result, examples: sentences.count,
                      teacherCache: cache.map { ($0.hits, $0.misses) })
    }

    /// The student and, when it is a narrower shrunk teacher, the teacher channels it kept.
    func encoderStudent(_ base: SentenceEncoder) throws -> (SentenceEncoder, channels: [Int]?) {
        if let file = options.config {
            guard let c = try StudentBuilder.configuration(file: file).configuration(as: BertEncoder.Configuration.self) else {
                throw TrainingError.unsupported(option: "config", reason: "\(file) does not describe a BERT encoder, the teacher is one")
            }
            guard c.vocabularySize == base.tokenizer.vocabulary.count else {
                throw TrainingError.unsupported(option: "config", reason: "\(file) has vocab_size \(c.vocabularySize), the teacher's tokenizer \(base.tokenizer.vocabulary.count)")
            }
            return (SentenceEncoder(tokenizer: base.tokenizer, encoder: StudentBuilder.fresh(c, seed: loop.seed), maxLength: base.maxLength), nil)
        }
        let (encoder, channels) = try StudentBuilder.shrinkKeepingChannels(base.encoder, layers: options.layers, intermediate: options.intermediate,
                                                                           heads: options.heads, hidden: options.hidden)
        return (SentenceEncoder(tokenizer: base.tokenizer, encoder: encoder, maxLength: base.maxLength), channels)
    }

    /// Training sentences: every non-empty line; a TSV line contributes each column.
    public static func sentences(_ file: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw TrainingError.noTrainingData(file: file, reason: "cannot read it as UTF-8 text")
        }
        let sentences = text.split(whereSeparator: \.isNewline).flatMap { $0.split(separator: "\t") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !sentences.isEmpty else { throw TrainingError.noTrainingData(file: file, reason: "no non-empty line") }
        return sentences
    }

    // MARK: classifiers

    func distillClassifier(_ base: MLPClassifier, _ teachers: [Teacher]) throws -> Result {
        try refuse([.embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL, .reverseKL]) { _ in "classifiers are distilled with logit_kl and task" }
        if let key = [("layers", options.layers != nil), ("hidden", options.hidden != nil), ("intermediate", options.intermediate != nil),
                      ("heads", options.heads != nil), ("teacher_cache", options.teacherCache != nil)].first(where: \.1)?.0 {
            throw TrainingError.unsupported(option: key, reason: "applies to BERT students; describe a classifier student with `config`")
        }
        // Without `config` the student is a copy of the model entering the stage (fine-tuning, QAT).
        let c: MLPClassifier.Configuration
        if let file = options.config {
            guard let parsed = try StudentBuilder.configuration(file: file).configuration(as: MLPClassifier.Configuration.self) else {
                throw TrainingError.unsupported(option: "config", reason: "\(file) does not describe an MLP classifier, the teacher is one")
            }
            c = parsed
        } else {
            c = base.configuration
        }
        let teacherModels = try teachers.enumerated().map { i, t -> MLPClassifier in
            guard let m = t.model.as(MLPClassifier.self), t.model.classifier != nil, m.configuration.inputs == c.inputs, m.configuration.classes == c.classes else {
                throw TrainingError.unsupported(option: "teachers[\(i)]", reason: "needs an MLP classifier with \(c.inputs) inputs and \(c.classes) classes")
            }
            return m
        }
        guard base.configuration.inputs == c.inputs, base.configuration.classes == c.classes else {
            throw TrainingError.unsupported(option: "config", reason: "the student needs the teacher's \(base.configuration.inputs) inputs and \(base.configuration.classes) classes")
        }
        let student = StudentBuilder.fresh(c, seed: loop.seed)
        if options.config == nil {
            for ((_, to), (_, from)) in zip(student.namedParameters, base.namedParameters) { to.value = from.value }
        }
        let extra = try prepareStudent(.classifier(student))
        let rows = try Self.labeledFeatures(options.training.data, inputs: c.inputs, classes: c.classes)
        var training = TrainingLoop(parameters: student.namedParameters + extra, configuration: loop,
                                    batches: TrainingBatches(count: rows.count, batchSize: loop.batchSize, seed: loop.seed))
        if let evaluate, loop.evalEvery > 0 { training.evaluate = { try evaluate(.classifier(student)) } }
        training.progress = progress
        training.afterStep = afterStep
        let teacherWeights = weights(teachers)
        let result = try training.run { batch, tape in
            let x = Tensor(shape: [batch.count, c.inputs], scalars: batch.flatMap { rows[$0].features })
            let logits = student(tape.constant(x), tape: tape)
            var sum = WeightedLossSum()
            func add(_ term: Variable, _ weight: Float) { sum.add(term, weight: weight, tape: tape) }
            for loss in options.losses {
                switch loss.kind {
                case .task: add(Loss.crossEntropy(logits, targets: batch.map { rows[$0].label }, tape: tape), Float(loss.weight))
                case .logitKL:
                    for (t, teacher) in teacherModels.enumerated() {
                        let teacherLogits = teacher(Variable(x), tape: Tape(recording: false)).value
                        add(DistillationLosses.logitKL(student: logits, teacher: teacherLogits, temperature: Float(loss.temperature), tape: tape),
                            Float(loss.weight) * teacherWeights[t])
                    }
                case .embeddingCosine, .embeddingMSE, .hiddenMSE, .attentionKL, .reverseKL: continue   // refused above
                }
            }
            return sum.value
        }
        return Result(student: .classifier(student), training: result, examples: rows.count)
    }

    /// `label<TAB>features` rows (labels 0..<classes, `inputs` numbers separated by spaces or commas).
    public static func labeledFeatures(_ file: String, inputs: Int, classes: Int) throws -> [(label: Int, features: [Float])] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw TrainingError.noTrainingData(file: file, reason: "cannot read it as UTF-8 text")
        }
        var rows: [(label: Int, features: [Float])] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.allSatisfy(\.isWhitespace) {
            let fields = line.split(separator: "\t", maxSplits: 1)
            guard fields.count == 2, let label = Int(fields[0].trimmingCharacters(in: .whitespaces)), (0..<classes).contains(label) else {
                throw TrainingError.badTrainingLine(file: file, line: i + 1, reason: "expected label<TAB>features with a label in 0..<\(classes)")
            }
            let features = try EvaluationData.features(String(fields[1]), file: file, line: i + 1)
            guard features.count == inputs else {
                throw TrainingError.badTrainingLine(file: file, line: i + 1, reason: "\(features.count) features, the model takes \(inputs)")
            }
            rows.append((label, features))
        }
        guard !rows.isEmpty else { throw TrainingError.noTrainingData(file: file, reason: "no rows") }
        return rows
    }
}
