import NanoModels

/// How language-model evaluation turns text into a model's tokens: the one place a tokenizer
/// plugs in (a character vocabulary today, a byte-level BPE tokenizer for Llama-family models).
public struct LanguageModelTokenizer {
    /// The BOS id when the tokenizer adds one at the start of a text (llama.cpp's `add_bos`), nil
    /// when it adds none. With one, every chunk starts with it (see `LanguageModelChunks`).
    public var beginningOfSequence: Int?
    /// The text's token ids, without BOS.
    public var encode: (String) -> [Int]
    /// The UTF-8 bytes of text a token id stands for (per-byte metrics compare models whose
    /// tokenizers cut the same text differently, such as a trimmed vocabulary's).
    public var byteCount: (Int) -> Int

    public init(beginningOfSequence: Int?, encode: @escaping (String) -> [Int], byteCount: @escaping (Int) -> Int) {
        self.beginningOfSequence = beginningOfSequence
        self.encode = encode
        self.byteCount = byteCount
    }

    /// A character vocabulary: one token a Unicode scalar, no BOS; scalars outside it are dropped.
    public static func characters(_ vocabulary: CharacterVocabulary) -> LanguageModelTokenizer {
        LanguageModelTokenizer(beginningOfSequence: nil, encode: vocabulary.encode, byteCount: { id in
            vocabulary.scalars.indices.contains(id) ? String(vocabulary.scalars[id]).utf8.count : 0
        })
    }
}

/// A model as language-model evaluation sees it: next-token logits and the tokenizer.
public struct LanguageModelInput {
    public var model: any CausalLanguageModel
    public var tokenizer: LanguageModelTokenizer
    /// A character-level decoder: without a `context`, its `perplexity` keeps nanoforge's earlier
    /// windows (every character scored, see `PerplexityEvaluation`); token-level models always
    /// use llama.cpp's chunks.
    public var characterLevel: Bool

    public init(model: any CausalLanguageModel, tokenizer: LanguageModelTokenizer, characterLevel: Bool) {
        self.model = model
        self.tokenizer = tokenizer
        self.characterLevel = characterLevel
    }

    /// llama.cpp's default context (`-c 512`), capped at what the model accepts.
    public var defaultContext: Int { min(512, model.contextLength) }
}

extension EvaluatedModel {
    /// This model as a language model, nil for models that do not predict tokens. Adding a
    /// language-model family to evaluation is one case here.
    public var languageModel: LanguageModelInput? {
        if let (decoder, vocabulary) = decoder {
            return LanguageModelInput(model: decoder, tokenizer: .characters(vocabulary), characterLevel: true)
        }
        if case .byteLevelBPE(let tokenizer)? = input, let decoder = model?.container as? NextTokenLogitsModel {
            return LanguageModelInput(model: decoder, tokenizer: .byteLevelBPE(tokenizer), characterLevel: false)
        }
        return nil
    }
}
