import NanoModels
import NanoTensor

/// Calibration batches: the first `samples` sentences of the recipe's calibration file,
/// tokenized and grouped by length.
struct CalibrationData {
    var batches: [(ids: [Int], attentionMask: Tensor)]

    init(sentences: [String], encoder: SentenceEncoder, batchSize: Int = 32) {
        let tokens = sentences.map { encoder.tokenizer.encode($0, maxLength: encoder.maxLength) }
        let order = tokens.indices.sorted { (tokens[$0].count, $0) < (tokens[$1].count, $1) }
        batches = stride(from: 0, to: order.count, by: batchSize).map { start in
            let rows = order[start..<min(start + batchSize, order.count)].map { tokens[$0] }
            let batch = encoder.batch(tokenIds: rows)
            return (batch.ids, batch.attentionMask)
        }
    }

    /// Real (non-padding) rows of a [tokens, in] input.
    static func realRows(_ input: Tensor, _ rowMask: [Float]) -> Tensor {
        let kept = rowMask.indices.filter { rowMask[$0] != 0 }
        return kept.count == rowMask.count ? input : Tensor.gatherRows(input, kept)
    }
}
