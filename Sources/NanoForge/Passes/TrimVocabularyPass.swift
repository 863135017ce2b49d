import Foundation
import NanoModels
import Yams

/// The `trim_vocabulary` pass: keeps the embedding rows of tokens that occur in a domain corpus,
/// plus the special tokens, and remaps ids (`VocabularyTrim`).
public struct TrimVocabularyPass: CompressionPass {
    /// Text files whose tokens are kept.
    public var corpus: [String]
    /// Keep `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]` and the like.
    public var keepSpecial = true
    /// Keep a token only if it occurs at least this often.
    public var minCount = 1

    public init(corpus: [String], keepSpecial: Bool = true, minCount: Int = 1) {
        self.corpus = corpus; self.keepSpecial = keepSpecial; self.minCount = minCount
    }

    public static let key = "trim_vocabulary"
    public static let summary = "Keeps the embedding rows of tokens found in a domain corpus plus the special tokens, and writes the trimmed vocab.txt (WordPiece encoders) or tokenizer.json (byte-level BPE decoders: every byte token stays and the merges are rewritten, so any text still tokenizes; the output head shrinks too)."
    public static let shapeEffect = ShapeEffect.shrinks
    public var layerSelection: LayerSelector? { nil }
    public var inputFiles: [(field: String, path: String)] { corpus.enumerated().map { ("corpus[\($0.offset)]", $0.element) } }

    public static let fields: [RecipeField] = [
        RecipeField("corpus", "string or list of strings", required: true, allowed: "file paths",
                    "Plain-text files; tokens that occur in them are kept. WordPiece: one sentence a line (TSV: every column); byte-level BPE: each file tokenized whole, as language-model evaluation reads text."),
        RecipeField("keep_special", "boolean", default: "true", allowed: "true | false", "Always keep the tokenizer's special tokens."),
        RecipeField("min_count", "integer", default: "1", allowed: "≥ 1", "Keep a token only if it occurs at least this often in the corpus."),
    ]

    public static func decode(_ node: RecipeNode) throws -> TrimVocabularyPass {
        let map = try node.mapping(fields)
        let corpusNode = try map.required("corpus", hint: "name one or more text files")
        let corpus = try corpusNode.strings()
        guard !corpus.isEmpty else {
            throw RecipeError.outOfRange(corpusNode.location, allowed: "at least one file", found: "an empty list")
        }
        return TrimVocabularyPass(corpus: corpus,
                                  keepSpecial: try map.optional("keep_special", default: true) { try $0.bool() },
                                  minCount: try map.optional("min_count", default: 1) { try $0.int(atLeast: 1) })
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            e.set("corpus", strings: corpus)
            e.set("keep_special", keepSpecial)
            e.set("min_count", minCount)
        }
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        var lines: [String] = [], texts: [String] = []
        for path in corpus {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw PipelineError.missingFile(recipe: context.recipe.file, field: "\(context.label).corpus", path: path)
            }
            texts.append(text)
            // TSV corpora contribute every column.
            for line in text.split(whereSeparator: \.isNewline) { lines += line.split(separator: "\t").map(String.init) }
        }
        if case .byteLevelBPE(let tokenizer)? = state.model.input {
            // A decoder reads running text, line ends and indentation included (language-model
            // evaluation tokenizes a data file whole), so the file is tokenized as it is.
            return try trimByteLevelBPE(tokenizer, state: state, texts: texts, context: context)
        }
        var options = VocabularyTrim.Options()
        options.keepSpecial = keepSpecial
        options.minCount = minCount
        let encoder = try state.model.sentenceEncoder(for: context.label, recipe: context.recipe.file)
        let before = encoder.tokenizer.vocabulary.count
        let trim = VocabularyTrim(tokenizer: encoder.tokenizer, corpus: lines, options: options)
        state.model = .sentenceEncoder(try trim.apply(to: encoder))
        return "kept \(trim.keptIds.count) of \(before) word pieces from \(lines.count) lines"
    }
}

extension TrimVocabularyPass {
    /// A byte-level BPE decoder: `ByteLevelBPEVocabularyTrim` on the model's own rows.
    func trimByteLevelBPE(_ tokenizer: ByteLevelBPETokenizer, state: CompressionState, texts: [String], context: PassContext) throws -> String {
        guard let loaded = state.model.model, let model = loaded.container as? TrimmableVocabularyModel else {
            throw context.failure("a \(state.model.kindName) of this family cannot have its vocabulary trimmed (its family does not conform to TrimmableVocabularyModel)")
        }
        // Packed forms of the embedding or head would no longer match their rows.
        let tables = Set(state.model.embeddingLayers.map(\.name) + ["lm_head"])
        if let packed = (Array(state.quantized.keys) + Array(state.ggmlQuantized.keys)).first(where: tables.contains) {
            throw context.failure("\(packed) is already quantized; trim the vocabulary before quantizing")
        }
        var options = ByteLevelBPEVocabularyTrim.Options()
        options.keepSpecial = keepSpecial
        options.minCount = minCount
        let before = (tokens: tokenizer.vocabularySize, parameters: model.parameterCount)
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: tokenizer, corpus: texts, options: options)
        let trimmed = try trim.apply(to: model, tokenizer: tokenizer)
        state.model = EvaluatedModel(loaded, input: .byteLevelBPE(trimmed))
        return "kept \(trim.keptIds.count) of \(before.tokens) tokens (\(trimmed.byteTokenIDs.count) byte tokens, "
            + "\(trim.intermediateCount) merge intermediates) from \(trim.corpusTokens) tokens of \(texts.count) file\(texts.count == 1 ? "" : "s"); "
            + "\(trimmed.definition.merges.count) of \(tokenizer.definition.merges.count) merges; parameters \(before.parameters) → \(model.parameterCount)"
    }
}
