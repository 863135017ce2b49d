/// Options of the `trim_vocabulary` pass: keeps the embedding rows of tokens that occur in a
/// domain corpus, plus the special tokens, and remaps ids.
public struct TrimVocabularyOptions: Equatable {
    /// Text files whose tokens are kept.
    public var corpus: [String]
    /// Keep `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]` and the like.
    public var keepSpecial = true
    /// Keep a token only if it occurs at least this often.
    public var minCount = 1

    static let fields: [RecipeField] = [
        RecipeField("corpus", "string or list of strings", required: true, allowed: "file paths",
                    "Plain-text files, one sentence a line; tokens that occur in them are kept."),
        RecipeField("keep_special", "boolean", default: "true", allowed: "true | false", "Always keep the tokenizer's special tokens."),
        RecipeField("min_count", "integer", default: "1", allowed: "≥ 1", "Keep a token only if it occurs at least this often in the corpus."),
    ]

    static func decode(_ node: RecipeNode) throws -> TrimVocabularyOptions {
        let map = try node.mapping(fields)
        let corpusNode = try map.required("corpus", hint: "name one or more text files")
        let corpus = try corpusNode.strings()
        guard !corpus.isEmpty else {
            throw RecipeError.outOfRange(corpusNode.location, allowed: "at least one file", found: "an empty list")
        }
        var options = TrimVocabularyOptions(corpus: corpus)
        options.keepSpecial = try map.optional("keep_special", default: true) { try $0.bool() }
        options.minCount = try map.optional("min_count", default: 1) { try $0.int(atLeast: 1) }
        return options
    }
}
