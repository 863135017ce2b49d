import NanoModels
import NanoTensor

/// Calibration inputs, batched for the model they feed: sentences tokenized and grouped by length
/// for a sentence encoder, feature rows for a classifier (lines as `EvaluationData.inputs` reads
/// them).
struct CalibrationData {
    enum Batch {
        case tokens(ids: [Int], attentionMask: Tensor)
        case features(Tensor)
        /// One token sequence of a language model (see `CalibrationData+LanguageModel.swift`).
        case sequence([Int])
    }

    var batches: [Batch]
    var count: Int

    init(inputs: [String], model: EvaluatedModel, file: String, batchSize: Int = 32) throws {
        count = inputs.count
        if let encoder = model.sentenceEncoder {
            let tokens = inputs.map { encoder.tokenizer.encode($0, maxLength: encoder.maxLength) }
            let order = tokens.indices.sorted { (tokens[$0].count, $0) < (tokens[$1].count, $1) }
            batches = stride(from: 0, to: order.count, by: batchSize).map { start in
                let batch = encoder.batch(tokenIds: order[start..<min(start + batchSize, order.count)].map { tokens[$0] })
                return .tokens(ids: batch.ids, attentionMask: batch.attentionMask)
            }
        } else if let classifier = model.classifier {
            let rows = try inputs.enumerated().map { i, line in
                try EvaluatedModel.checkedFeatures(line, classifier: classifier, file: file, line: i + 1)
            }
            let width = classifier.featureCount
            batches = stride(from: 0, to: rows.count, by: batchSize).map { start in
                let slice = rows[start..<min(start + batchSize, rows.count)]
                return .features(Tensor(shape: [slice.count, width], scalars: slice.flatMap { $0 }))
            }
        } else if let sequences = Self.languageModelSequences(inputs, model: model) {
            batches = sequences.map { .sequence($0) }
        } else if model.model == nil {
            throw EvaluationError.unsupported(task: "calibration", model: model.kindName, hint: "the packed runtime's encoder is not compressed further")
        } else {
            throw EvaluationError.unsupported(task: "calibration", model: model.kindName, hint: "decoders are not compressed by recipes yet")
        }
    }

    /// Runs every batch through `model`; `visit(name, rows, rowMask)` gets each Linear layer's
    /// input [rows, in] with one flag per row (0 = padding).
    func forEachLinearInput(_ model: EvaluatedModel, _ visit: (String, Tensor, [Float]) -> Void) {
        for batch in batches {
            switch batch {
            case .tokens(let ids, let mask):
                guard let encoder = model.sentenceEncoder else { preconditionFailure("token batches were built for a sentence encoder") }
                BertCalibration.forEachLinearInput(encoder.encoder, ids: ids, attentionMask: mask, visit)
            case .features(let x):
                guard let classifier = model.classifier else { preconditionFailure("feature batches were built for a classifier") }
                let ones = [Float](repeating: 1, count: x.shape[0])
                LinearInputs.observe(model.linearLayers, during: {
                    _ = classifier.classLogits(Variable(x), tape: Tape(recording: false))
                }) { name, input in visit(name, input, ones) }
            case .sequence(let tokens):
                Self.forEachLinearInput(model, tokens: tokens, visit)
            }
        }
    }

    /// ‖X_j‖₂ per input feature of every Linear layer, over all real rows (Wanda, activation
    /// importance).
    func inputNorms(_ model: EvaluatedModel) -> [String: [Float]] {
        var accumulators: [String: ActivationNormAccumulator] = [:]
        forEachLinearInput(model) { name, input, rowMask in
            accumulators[name, default: ActivationNormAccumulator(features: input.shape[1])].add(input, rowMask: rowMask)
        }
        return accumulators.mapValues(\.norms)
    }

    /// Real (non-padding) rows of a [tokens, in] input.
    static func realRows(_ input: Tensor, _ rowMask: [Float]) -> Tensor {
        let kept = rowMask.indices.filter { rowMask[$0] != 0 }
        return kept.count == rowMask.count ? input : Tensor.gatherRows(input, kept)
    }
}
