import NanoModels
import NanoTensor

/// Shrinking a BERT student's hidden (residual-stream) width: which channels stay, and slicing
/// every tensor that reads or writes the residual stream consistently.
extension StudentBuilder {
    /// One importance per residual channel: the L2 norm of the channel across every tensor that
    /// touches the residual stream (word/position/type embedding columns, the embedding and every
    /// block LayerNorm, the input columns of query/key/value, the feed-forward up projection and
    /// the pooler, the output rows of the attention output, the feed-forward down projection and
    /// the pooler). Each tensor's squared norms are first divided by their sum, so each tensor
    /// votes with the same total weight whatever its size (the 30k-row embedding table does not
    /// outvote a 384 × 384 projection): the structured-pruning L2 importance, per channel.
    public static func channelImportance(_ encoder: BertEncoder) -> [Float] {
        var total = [Float](repeating: 0, count: encoder.configuration.width)
        func vote(_ squared: [Float]) {
            let sum = squared.reduce(0, +)
            guard sum > 0 else { return }
            for (c, v) in squared.enumerated() { total[c] += v / sum }
        }
        func columns(_ t: Tensor) { vote(StructuredPruning.columnSquaredNorms(t)) }
        func rows(_ t: Tensor) { vote(StructuredPruning.rowSquaredNorms(t)) }
        func norm(_ n: LayerNorm) { vote(n.weight.value.scalars.map { $0 * $0 }) }
        for e in [encoder.wordEmbeddings, encoder.positionEmbeddings, encoder.tokenTypeEmbeddings] { columns(e.weight.value) }
        norm(encoder.embeddingNorm)
        for layer in encoder.layers {
            let a = layer.attention, f = layer.feedForward
            for reader in [a.query, a.key, a.value, f.up] + (f.gate.map { [$0] } ?? []) { columns(reader.weight.value) }
            rows(a.output.weight.value); rows(f.down.weight.value)
            norm(layer.attentionNorm); norm(layer.outputNorm)
        }
        if let pooler = encoder.pooler { columns(pooler.weight.value); rows(pooler.weight.value) }
        return total.map { $0.squareRoot() }
    }

    /// `encoder` with only the residual channels `kept` (ascending): embeddings and LayerNorms keep
    /// those entries, residual readers those input columns, residual writers those output rows
    /// (the pooler both). Attention heads are untouched (their width is independent of the
    /// residual width); `configuration` gets width `kept.count` and `heads` = width / head
    /// dimension, with the per-layer head counts recorded as they are.
    static func narrowed(_ encoder: BertEncoder, keeping kept: [Int], headDimension: Int) -> BertEncoder {
        func table(_ e: Embedding) -> Embedding {
            Embedding(weight: StructuredPruning.keepingColumns(Linear(weight: e.weight.value, bias: nil), kept).weight.value)
        }
        func norm(_ n: LayerNorm) -> LayerNorm {
            LayerNorm(weight: Tensor(shape: [kept.count], scalars: kept.map { n.weight.value.scalars[$0] }),
                      bias: Tensor(shape: [kept.count], scalars: kept.map { n.bias.value.scalars[$0] }), epsilon: n.epsilon)
        }
        func reader(_ l: Linear) -> Linear { StructuredPruning.keepingColumns(l, kept) }
        func writer(_ l: Linear) -> Linear { StructuredPruning.keepingRows(l, kept) }
        var c = encoder.configuration
        c.width = kept.count
        c.heads = kept.count / headDimension
        let layers = encoder.layers.map { rebuilt($0, reading: reader, writing: writer, norm: norm) }
        let student = BertEncoder(configuration: c, wordEmbeddings: table(encoder.wordEmbeddings),
                                  positionEmbeddings: table(encoder.positionEmbeddings), tokenTypeEmbeddings: table(encoder.tokenTypeEmbeddings),
                                  embeddingNorm: norm(encoder.embeddingNorm), layers: layers,
                                  pooler: encoder.pooler.map { writer(reader($0)) })
        student.recordLayerSizes()
        return student
    }

    /// The head count and head dimension of a `hidden`-wide student of `teacher`: the head
    /// dimension stays the teacher's (so `hidden` must be a multiple of it) and the heads default
    /// to hidden / head dimension (the attention width then equals the residual width, as in a
    /// standard BERT; MiniLM 384 → 256 keeps 8 of its 12 heads of 32).
    static func widthPlan(_ teacher: BertEncoder, hidden: Int, heads: Int?) throws -> (heads: Int, headDimension: Int) {
        let width = teacher.configuration.width
        let d = width / teacher.configuration.heads
        guard hidden < width else {
            throw TrainingError.unsupported(option: "hidden", reason: "\(hidden) is not below the teacher's width \(width)")
        }
        guard hidden % d == 0 else {
            throw TrainingError.unsupported(option: "hidden", reason: "\(hidden) is not a multiple of the teacher's head dimension \(d) (heads keep their width; try \(Swift.max(d, hidden / d * d)))")
        }
        let headCount = heads ?? Swift.min(hidden / d, teacher.layers.map(\.attention.heads).min() ?? 0)
        return (headCount, d)
    }
}
