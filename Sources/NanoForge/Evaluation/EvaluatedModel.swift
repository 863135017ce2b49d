import NanoCheckpoint
import NanoModels
import NanoTensor

/// A model as the evaluation tasks see it, so a pipeline can hand over whatever it compressed.
/// Each task supports some cases and throws `EvaluationError.unsupported` for the others.
public enum EvaluatedModel {
    /// A sentence encoder: inputs are sentences, outputs L2-normalised embeddings.
    case sentenceEncoder(SentenceEncoder)
    /// A sentence encoder that only embeds (the packed runtime), with the spec of its model:
    /// evaluated like `sentenceEncoder`; it holds no trainable parameters, so no pass applies.
    case sentenceEmbedding(any SentenceEmbedding, ModelSpec)
    /// A classifier over numeric features: a line of text is its features (commas and/or
    /// whitespace between numbers), outputs are class logits.
    case classifier(MLPClassifier)
    /// A character-level decoder with the vocabulary it was trained on: outputs are next-character
    /// logits.
    case decoder(GPTDecoder, CharacterVocabulary)

    /// A short name for messages ("sentence encoder", "classifier", "decoder").
    public var kindName: String {
        switch self {
        case .sentenceEncoder, .sentenceEmbedding: return "sentence encoder"
        case .classifier: return "classifier"
        case .decoder: return "decoder"
        }
    }

    /// One output row per line, [N, D], in line order: what `fidelity` compares with the reference.
    ///
    /// - sentence encoder: the sentence embedding;
    /// - classifier: the logits of the line's features;
    /// - decoder: the next-character logits after the line's last `contextLength` characters
    ///   (characters outside the vocabulary are dropped; a line with none left is an error).
    ///
    /// `file` and `lineNumbers` only serve error messages (1-based lines; omitted: 1…N).
    public func outputs(for lines: [String], file: String, lineNumbers: [Int]? = nil, batchSize: Int = 32) throws -> Tensor {
        let numbers = lineNumbers ?? Array(1...max(1, lines.count))
        switch self {
        case .sentenceEncoder, .sentenceEmbedding:
            return try EvaluationTask.sentenceEncoder(self, task: "outputs").encode(lines, batchSize: batchSize, progress: nil)
        case .classifier(let classifier):
            let features = try lines.enumerated().map { i, line in
                try EvaluatedModel.checkedFeatures(line, classifier: classifier, file: file, line: numbers[i])
            }
            return EvaluatedModel.logits(classifier, features: features, batchSize: batchSize)
        case .decoder(let decoder, let vocabulary):
            try EvaluatedModel.checkVocabulary(decoder, vocabulary)
            let context = decoder.configuration.contextLength
            let v = decoder.configuration.vocabularySize
            var out: [Float] = []
            out.reserveCapacity(lines.count * v)
            for (i, line) in lines.enumerated() {
                let tokens = Array(vocabulary.encode(line).suffix(context))
                guard !tokens.isEmpty else {
                    throw EvaluationError.dataMismatch(file: file, line: numbers[i], expected: "characters in the decoder's vocabulary", found: "none")
                }
                let logits = decoder(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
                out += logits.scalars[((tokens.count - 1) * v)..<(tokens.count * v)]
            }
            return Tensor(shape: [lines.count, v], scalars: out)
        }
    }

    /// Every id of `vocabulary` must have a row in the decoder's embedding table.
    static func checkVocabulary(_ decoder: GPTDecoder, _ vocabulary: CharacterVocabulary) throws {
        guard vocabulary.count <= decoder.configuration.vocabularySize else {
            throw EvaluationError.unsupported(task: "evaluation", model: "decoder",
                                              hint: "its vocabulary has \(vocabulary.count) characters but the model only \(decoder.configuration.vocabularySize) embedding rows")
        }
    }

    /// Features of one line for `classifier`, their count checked against its input width.
    static func checkedFeatures(_ line: String, classifier: MLPClassifier, file: String, line number: Int) throws -> [Float] {
        let features = try EvaluationData.features(line, file: file, line: number)
        guard features.count == classifier.configuration.inputs else {
            throw EvaluationError.dataMismatch(file: file, line: number, expected: "\(classifier.configuration.inputs) features",
                                               found: "\(features.count)")
        }
        return features
    }

    /// Logits [N, classes] of feature rows, in batches.
    static func logits(_ classifier: MLPClassifier, features: [[Float]], batchSize: Int) -> Tensor {
        let inputs = classifier.configuration.inputs, classes = classifier.configuration.classes
        var out: [Float] = []
        out.reserveCapacity(features.count * classes)
        for start in stride(from: 0, to: features.count, by: max(1, batchSize)) {
            let rows = features[start..<min(start + max(1, batchSize), features.count)]
            let x = Tensor(shape: [rows.count, inputs], scalars: rows.flatMap { $0 })
            out += classifier(Variable(x), tape: Tape(recording: false)).value.scalars
        }
        return Tensor(shape: [features.count, classes], scalars: out)
    }
}
