import NanoTensor

/// A sentence-embedding model: WordPiece tokenizer + BERT encoder + mean pooling + L2 norm,
/// the sentence-transformers recipe of all-MiniLM-L6-v2.
public struct SentenceEncoder {
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    public var maxLength: Int

    public init(tokenizer: WordPieceTokenizer, encoder: BertEncoder, maxLength: Int = 256) {
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxLength = min(maxLength, encoder.configuration.maxPositions)
    }

    /// A padded batch: ids [B·T], attention mask [B, T].
    public struct Batch {
        public var ids: [Int]
        public var attentionMask: Tensor
        public var batch: Int { attentionMask.shape[0] }
        public var length: Int { attentionMask.shape[1] }
    }

    /// Tokenizes and pads sentences to the longest one.
    public func batch(_ sentences: [String]) -> Batch {
        batch(tokenIds: sentences.map { tokenizer.encode($0, maxLength: maxLength) })
    }

    public func batch(tokenIds: [[Int]]) -> Batch {
        let t = tokenIds.map(\.count).max() ?? 0
        var ids = [Int](repeating: tokenizer.paddingId, count: tokenIds.count * t)
        var mask = [Float](repeating: 0, count: tokenIds.count * t)
        for (row, seq) in tokenIds.enumerated() {
            for (j, id) in seq.enumerated() { ids[row * t + j] = id; mask[row * t + j] = 1 }
        }
        return Batch(ids: ids, attentionMask: Tensor(shape: [tokenIds.count, t], scalars: mask))
    }

    /// Differentiable embeddings of one batch: [B, width].
    public func embeddings(_ batch: Batch, tape: Tape) -> Variable {
        let hidden = encoder(batch.ids, attentionMask: batch.attentionMask, tape: tape)
        return SentencePooling.sentenceEmbeddings(hidden, attentionMask: batch.attentionMask, tape: tape)
    }

    /// Embeddings of many sentences [N, width], in input order. Sentences are grouped by length
    /// so each batch pads little.
    public func encode(_ sentences: [String], batchSize: Int = 32, progress: ((Int, Int) -> Void)? = nil) -> Tensor {
        let tokens = sentences.map { tokenizer.encode($0, maxLength: maxLength) }
        return Self.encodeSorted(tokens, width: encoder.configuration.width, batchSize: batchSize, progress: progress) { rows in
            embeddings(batch(tokenIds: rows), tape: Tape(recording: false)).value
        }
    }

    /// The batching of `encode`, shared with the packed runtime: token rows grouped by length
    /// (so each batch pads little), `embed` called per batch ([rows, width] back), results put
    /// back in input order.
    public static func encodeSorted(_ tokens: [[Int]], width: Int, batchSize: Int, progress: ((Int, Int) -> Void)?,
                                    embed: ([[Int]]) -> Tensor) -> Tensor {
        let order = tokens.indices.sorted { (tokens[$0].count, $0) < (tokens[$1].count, $1) }
        var out = [Float](repeating: 0, count: tokens.count * width)
        var done = 0
        for start in stride(from: 0, to: order.count, by: max(1, batchSize)) {
            let rows = Array(order[start..<min(start + batchSize, order.count)])
            let emb = embed(rows.map { tokens[$0] })
            for (k, row) in rows.enumerated() {
                for j in 0..<width { out[row * width + j] = emb.scalars[k * width + j] }
            }
            done += rows.count
            progress?(done, tokens.count)
        }
        return Tensor(shape: [tokens.count, width], scalars: out)
    }
}

/// What evaluation and `embed` need of a sentence encoder: L2-normalised embeddings [N, width] of
/// sentences, in input order. `SentenceEncoder` (fp32 autodiff model) and the packed runtime's
/// encoder both provide it.
public protocol SentenceEmbedding {
    var width: Int { get }
    func encode(_ sentences: [String], batchSize: Int, progress: ((Int, Int) -> Void)?) -> Tensor
}

extension SentenceEncoder: SentenceEmbedding {
    public var width: Int { encoder.configuration.width }
}
