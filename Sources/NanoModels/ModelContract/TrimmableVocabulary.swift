import NanoTensor

/// A model whose token vocabulary is rows of tables: the input embedding and the output head
/// (its own matrix, or the same table when tied). Vocabulary trimming keeps a subset of those
/// rows. Optional: a family that does not conform cannot have its vocabulary trimmed, and the
/// pass says so.
public protocol TrimmableVocabularyModel: ParameterContainer {
    /// Rows of the embedding table (and of the output head).
    var vocabularySize: Int { get }
    /// Keeps only tokens `ids` (ascending, distinct, in range), renumbered 0..<ids.count in that
    /// order: the embedding rows and the output head's rows (one table when tied) are gathered and
    /// the configuration records the new vocabulary size. Logits on kept ids are unchanged; the
    /// dropped ids' logits are gone.
    func keepTokens(_ ids: [Int])
}

extension Linear {
    /// A new Linear with only output features `rows` (weight rows and bias entries), in that order.
    public func keepingRows(_ rows: [Int]) -> Linear {
        Linear(weight: Tensor.gatherRows(weight.value, rows),
               bias: bias.map { b in Tensor(shape: [rows.count], scalars: rows.map { b.value.scalars[$0] }) })
    }
}
