import NanoModels
import NanoTensor

/// `trim_vocabulary` for byte-level BPE decoders (SmolLM2, Llama, Qwen2): keeps the tokens a
/// domain corpus uses, every single-byte token and the added (special, chat-template) tokens,
/// rewrites the merges and remaps ids; the embedding and output rows shrink with them
/// (`TrimmableVocabularyModel`). SmolLM2-135M's 49,152 × 576 table is 28.3 M of its 134.5 M
/// parameters.
///
/// Why any text still round-trips: all 256 byte tokens stay, and BPE starts every word from its
/// bytes, so a word whose merges were dropped ends as more, shorter pieces, never as nothing.
///
/// Why in-domain text keeps its pieces: a token is kept together with every intermediate token
/// its own merges build (`ByteLevelBPETokenizer.mergeDerivation`). Merging a corpus word applies
/// only merges whose parts and results are such tokens, so each of them survives the rewrite
/// (`trimmed(keeping:)` keeps a merge when its parts and result are kept), and since the
/// surviving merges are a subset with the same ranks, the best-ranked applicable merge at each
/// step is the same one. So "a kept token whose chain needs a dropped intermediate" cannot
/// happen: the intermediate is kept. A token that its own bytes do not merge back into (a few
/// exist in real vocabularies) can never be a word's piece, and is dropped unless it is an added
/// token (those are matched whole, not merged).
public struct ByteLevelBPEVocabularyTrim: Sendable {
    public struct Options: Sendable, Equatable {
        /// Keep every added token (`<|im_start|>`, `<|endoftext|>`, …). BOS/EOS/unknown/padding
        /// ids and the added tokens the chat template spells are kept either way.
        public var keepSpecial = true
        /// A piece must occur at least this often in the corpus to be kept (its intermediates follow it).
        public var minCount = 1
        public init() {}
    }

    /// Original ids to keep, ascending (the trimmed vocabulary keeps the original order).
    public let keptIds: [Int]
    /// How often each kept token was a piece of the corpus (0 for bytes, specials and intermediates).
    public let counts: [Int]
    /// Tokens kept only because a kept token's merges build them.
    public let intermediateCount: Int
    /// Corpus pieces over all lines (with repeats).
    public let corpusTokens: Int

    /// Tokenizes `corpus` (special-token text read as plain text, as evaluation does) and selects the ids to keep.
    public init(tokenizer: ByteLevelBPETokenizer, corpus: [String], options: Options = Options()) {
        var counts = [Int](repeating: 0, count: tokenizer.vocabularySize)
        var total = 0
        for line in corpus {
            for id in tokenizer.encode(line, allowSpecial: false) { counts[id] += 1; total += 1 }
        }
        var keep = Set(tokenizer.byteTokenIDs)
        for id in [tokenizer.bosID, tokenizer.eosID, tokenizer.unknownID, tokenizer.paddingID].compactMap({ $0 }) { keep.insert(id) }
        let template = tokenizer.chatTemplateSource ?? ""
        for added in tokenizer.definition.addedTokens {
            let spelling = tokenizer.tokens[added.id]
            if options.keepSpecial || (!template.isEmpty && template.contains(spelling)) { keep.insert(added.id) }
        }
        var intermediates = 0
        for (id, c) in counts.enumerated() where c >= options.minCount && !keep.contains(id) {
            if tokenizer.isAddedToken(id) { keep.insert(id); continue }
            let derivation = tokenizer.mergeDerivation(ofToken: id)
            // Unreachable tokens never come out of the encoder, so a counted one is reachable;
            // the check keeps the selection honest should that ever not hold.
            guard derivation.pieces == [id] else { continue }
            keep.insert(id)
            for step in derivation.intermediates where !keep.contains(step) { keep.insert(step); intermediates += 1 }
        }
        keptIds = keep.sorted()
        self.counts = keptIds.map { counts[$0] }
        intermediateCount = intermediates
        corpusTokens = total
    }

    /// The tokenizer of the kept tokens (ids renumbered in order, merges rewritten).
    public func tokenizer(of tokenizer: ByteLevelBPETokenizer) throws -> ByteLevelBPETokenizer {
        try tokenizer.trimmed(keeping: keptIds)
    }

    /// Trims `model` in place to the kept rows and returns the matching tokenizer.
    public func apply(to model: TrimmableVocabularyModel, tokenizer: ByteLevelBPETokenizer) throws -> ByteLevelBPETokenizer {
        precondition(model.vocabularySize == tokenizer.vocabularySize,
                     "ByteLevelBPEVocabularyTrim: the model has \(model.vocabularySize) rows, the tokenizer \(tokenizer.vocabularySize) tokens")
        let trimmed = try self.tokenizer(of: tokenizer)
        model.keepTokens(keptIds)
        return trimmed
    }
}
