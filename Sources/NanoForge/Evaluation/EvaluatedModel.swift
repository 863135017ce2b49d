import NanoCheckpoint
import NanoModels
import NanoTensor

/// A model as the evaluation tasks see it, so a pipeline can hand over whatever it compressed: a
/// built model of some family (`ModelArchitecture`) with the input adapter its family declares,
/// or the packed runtime's sentence encoder. Each task asks for the capability it needs
/// (`embedder`, `classifier`, `decoder`) and throws `EvaluationError.unsupported` without it.
public struct EvaluatedModel {
    /// How text becomes the model's input (the family's `InputAdapterKind`, with its data).
    public enum Input {
        /// A WordPiece tokenizer and the longest token sequence.
        case wordPiece(WordPieceTokenizer, maxLength: Int)
        /// A character vocabulary.
        case characters(CharacterVocabulary)
        /// A line of numbers is one feature row.
        case features
        /// A byte-level BPE tokenizer (Llama-family models).
        case byteLevelBPE(ByteLevelBPETokenizer)
    }

    /// The trainable model; nil for the packed runtime's encoder.
    public let model: LoadedModel?
    public let input: Input?
    private let packedEmbedder: (any SentenceEmbedding)?
    private let packedSpec: ModelSpec?
    /// What computes the class logits in place of the model's float forward: the full-integer
    /// int8 model a `quantize` stage built from a Keras graph (`IntegerCNNClassifier`).
    var integerClassifier: (any ClassLogitsModel)?

    /// A built model and its input adapter.
    public init(_ model: LoadedModel, input: Input) {
        self.model = model
        self.input = input
        packedEmbedder = nil
        packedSpec = nil
    }

    /// A sentence encoder that only embeds (the packed runtime), with the spec of its model:
    /// evaluated like a sentence encoder; it holds no trainable parameters, so no pass applies.
    public static func sentenceEmbedding(_ embedder: any SentenceEmbedding, _ spec: ModelSpec) -> EvaluatedModel {
        EvaluatedModel(embedder: embedder, spec: spec)
    }

    private init(embedder: any SentenceEmbedding, spec: ModelSpec) {
        model = nil
        input = nil
        packedEmbedder = embedder
        packedSpec = spec
    }

    /// A BERT-style sentence encoder: inputs are sentences, outputs L2-normalised embeddings.
    public static func sentenceEncoder(_ e: SentenceEncoder) -> EvaluatedModel {
        EvaluatedModel(.bert(e.encoder), input: .wordPiece(e.tokenizer, maxLength: e.maxLength))
    }

    /// A classifier over numeric features: a line of text is its features (commas and/or
    /// whitespace between numbers), outputs are class logits.
    public static func classifier(_ c: MLPClassifier) -> EvaluatedModel { EvaluatedModel(.mlp(c), input: .features) }

    /// A character-level decoder with the vocabulary it was trained on: outputs are next-character logits.
    public static func decoder(_ d: GPTDecoder, _ vocabulary: CharacterVocabulary) -> EvaluatedModel {
        EvaluatedModel(.decoder(d), input: .characters(vocabulary))
    }

    /// The spec of the packed runtime's model (set for every model without `model`).
    var packedSpecOrFail: ModelSpec { packedSpec! }

    /// The tasks the model runs.
    public var tasks: [ModelTask] { model?.architecture.tasks ?? [.sentenceEmbedding] }

    /// The model when it is an `M` (family-specific passes: distillation, vocabulary trimming).
    public func `as`<M>(_ type: M.Type) -> M? { model?.as(type) }

    /// The fp32 BERT sentence encoder (model + WordPiece tokenizer), when the model is one.
    public var sentenceEncoder: SentenceEncoder? {
        guard case .wordPiece(let tokenizer, let maxLength)? = input, let bert = self.as(BertEncoder.self) else { return nil }
        return SentenceEncoder(tokenizer: tokenizer, encoder: bert, maxLength: maxLength)
    }

    /// What embeds sentences, when the model does.
    public var embedder: (any SentenceEmbedding)? { packedEmbedder ?? sentenceEncoder }

    /// The class-logits model, when the model is one (fed by feature rows).
    public var classifier: (any ClassLogitsModel)? {
        guard case .features? = input else { return nil }
        return integerClassifier ?? model?.container as? ClassLogitsModel
    }

    /// The next-token model and its character vocabulary, when the model is one.
    public var decoder: (model: any NextTokenLogitsModel, vocabulary: CharacterVocabulary)? {
        guard case .characters(let vocabulary)? = input, let d = model?.container as? NextTokenLogitsModel else { return nil }
        return (d, vocabulary)
    }

    /// A short name for messages ("sentence encoder", "classifier", "decoder"), from its first task.
    public var kindName: String { (tasks.first ?? .sentenceEmbedding).kindName }

    /// One output row per line, [N, D], in line order: what `fidelity` compares with the reference.
    ///
    /// - sentence encoder: the sentence embedding;
    /// - classifier: the logits of the line's features;
    /// - decoder: the next-token logits after the line's last `contextLength` tokens (characters
    ///   outside a character vocabulary are dropped; a line with none left is an error; BOS first
    ///   when the tokenizer adds one).
    ///
    /// `file` and `lineNumbers` only serve error messages (1-based lines; omitted: 1…N).
    public func outputs(for lines: [String], file: String, lineNumbers: [Int]? = nil, batchSize: Int = 32) throws -> Tensor {
        let numbers = lineNumbers ?? Array(1...max(1, lines.count))
        if let embedder {
            return embedder.encode(lines, batchSize: batchSize, progress: nil)
        }
        if let classifier {
            let features = try lines.enumerated().map { i, line in
                try EvaluatedModel.checkedFeatures(line, classifier: classifier, file: file, line: numbers[i])
            }
            return EvaluatedModel.logits(classifier, features: features, batchSize: batchSize)
        }
        guard let lm = languageModel else {
            throw EvaluationError.unsupported(task: "outputs", model: kindName, hint: "it has no input adapter")
        }
        if let (decoder, vocabulary) = decoder { try EvaluatedModel.checkVocabulary(decoder, vocabulary) }
        let context = lm.model.contextLength
        let v = lm.model.vocabularySize
        let bos = lm.tokenizer.beginningOfSequence.map { [$0] } ?? []
        var out: [Float] = []
        out.reserveCapacity(lines.count * v)
        for (i, line) in lines.enumerated() {
            let tokens = Array((bos + lm.tokenizer.encode(line)).suffix(context))
            guard tokens.count > bos.count else {
                throw EvaluationError.dataMismatch(file: file, line: numbers[i],
                                                   expected: lm.characterLevel ? "characters in the decoder's vocabulary" : "text that has tokens",
                                                   found: "none")
            }
            let logits = lm.model.logits(tokens)
            out += logits.scalars[((tokens.count - 1) * v)..<(tokens.count * v)]
        }
        return Tensor(shape: [lines.count, v], scalars: out)
    }

    /// Every id of `vocabulary` must have a row in the decoder's embedding table.
    static func checkVocabulary(_ decoder: any NextTokenLogitsModel, _ vocabulary: CharacterVocabulary) throws {
        guard vocabulary.count <= decoder.vocabularySize else {
            throw EvaluationError.unsupported(task: "evaluation", model: "decoder",
                                              hint: "its vocabulary has \(vocabulary.count) characters but the model only \(decoder.vocabularySize) embedding rows")
        }
    }

    /// Features of one line for `classifier`, their count checked against its input width.
    static func checkedFeatures(_ line: String, classifier: any ClassLogitsModel, file: String, line number: Int) throws -> [Float] {
        let features = try EvaluationData.features(line, file: file, line: number)
        guard features.count == classifier.featureCount else {
            throw EvaluationError.dataMismatch(file: file, line: number, expected: "\(classifier.featureCount) features",
                                               found: "\(features.count)")
        }
        return features
    }

    /// Logits [N, classes] of feature rows, in batches.
    static func logits(_ classifier: any ClassLogitsModel, features: [[Float]], batchSize: Int) -> Tensor {
        let inputs = classifier.featureCount, classes = classifier.classCount
        var out: [Float] = []
        out.reserveCapacity(features.count * classes)
        for start in stride(from: 0, to: features.count, by: max(1, batchSize)) {
            let rows = features[start..<min(start + max(1, batchSize), features.count)]
            let x = Tensor(shape: [rows.count, inputs], scalars: rows.flatMap { $0 })
            out += classifier.classLogits(Variable(x), tape: Tape(recording: false)).value.scalars
        }
        return Tensor(shape: [features.count, classes], scalars: out)
    }
}
