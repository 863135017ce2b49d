import NanoModels
import NanoTensor

/// `trim_vocabulary`: keeps the embedding rows of the word pieces a domain corpus uses (plus the
/// special tokens and, optionally, every single-character piece so unseen words still split into
/// something better than [UNK]), and remaps ids. For a small encoder this is where most bytes are:
/// all-MiniLM-L6-v2's embedding table holds 11.7 M of its 22.7 M parameters.
///
/// Tokenization of the corpus itself is unchanged: greedy longest-match only ever picks pieces that
/// exist, every piece it picked on the corpus is kept, and the trimmed vocabulary is a subset of
/// the original, so no longer match can appear.
public struct VocabularyTrim: Sendable {
    public struct Options: Sendable, Equatable {
        /// Keep [PAD], [UNK], [CLS], [SEP], [MASK] and every other bracketed special token.
        public var keepSpecial = true
        /// Keep every single-character piece ("a", "##a", "é", …) as a fallback for unseen words.
        public var keepCharacters = true
        /// A piece must occur at least this often in the corpus to be kept.
        public var minCount = 1
        public init() {}
    }

    /// Original ids to keep, ascending (so the trimmed vocabulary keeps the original order).
    public let keptIds: [Int]
    /// How often each kept piece occurred in the corpus (0 for specials and characters kept as fallback).
    public let counts: [Int]

    /// Tokenizes `corpus` and selects the ids to keep.
    public init(tokenizer: WordPieceTokenizer, corpus: [String], options: Options = Options()) {
        var counts = [Int](repeating: 0, count: tokenizer.vocabulary.count)
        for line in corpus {
            for id in tokenizer.encode(line, maxLength: Int.max) { counts[id] += 1 }
        }
        var keep = Set<Int>()
        for (id, c) in counts.enumerated() where c >= options.minCount { keep.insert(id) }
        for (id, token) in tokenizer.vocabulary.enumerated() {
            if options.keepSpecial && token.hasPrefix("[") && token.hasSuffix("]") { keep.insert(id) }
            let bare = token.hasPrefix("##") ? String(token.dropFirst(2)) : token
            if options.keepCharacters && bare.unicodeScalars.count == 1 { keep.insert(id) }
        }
        for special in [tokenizer.paddingId, tokenizer.unknownId, tokenizer.classifyId, tokenizer.separatorId] { keep.insert(special) }
        keptIds = keep.sorted()
        self.counts = keptIds.map { counts[$0] }
    }

    /// The trimmed vocabulary (a subset of the original, in the original order).
    public func vocabulary(of tokenizer: WordPieceTokenizer) -> [String] { keptIds.map { tokenizer.vocabulary[$0] } }

    /// A sentence encoder whose tokenizer and word-embedding table hold only the kept pieces.
    public func apply(to model: SentenceEncoder) throws -> SentenceEncoder {
        let old = model.encoder
        let tokenizer = try WordPieceTokenizer(vocabulary: vocabulary(of: model.tokenizer), basic: model.tokenizer.basic,
                                               source: "trimmed vocabulary")
        let table = Tensor.gatherRows(old.wordEmbeddings.weight.value, keptIds)
        var configuration = old.configuration
        configuration.vocabularySize = keptIds.count
        let encoder = BertEncoder(configuration: configuration, wordEmbeddings: Embedding(weight: table),
                                  positionEmbeddings: old.positionEmbeddings, tokenTypeEmbeddings: old.tokenTypeEmbeddings,
                                  embeddingNorm: old.embeddingNorm, layers: old.layers, pooler: old.pooler)
        return SentenceEncoder(tokenizer: tokenizer, encoder: encoder, maxLength: model.maxLength)
    }
}
