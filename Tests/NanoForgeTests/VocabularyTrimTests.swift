import Testing
import NanoForge
import NanoModels
import NanoTensor
import TestSupport

@Suite struct VocabularyTrimTests {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "run", "##s",
                             "##ning", "on", "mat", "a", "b", "c", "d", "e", "g", "h", "m", "n", "o", "r", "s", "t", "u",
                             "##a", "##c", "##d", "##e", "##g", "##h", "##m", "##n", "##o", "##r", "##s2", "##t", "##u", "."]

    static func model() throws -> SentenceEncoder {
        var rng = RandomGenerator(seed: 3)
        let tokenizer = try WordPieceTokenizer(vocabulary: vocabulary)
        let bert = BertEncoder(.init(vocabularySize: vocabulary.count, width: 8, layers: 1, heads: 2, intermediateWidth: 16,
                                     maxPositions: 32), rng: &rng)
        return SentenceEncoder(tokenizer: tokenizer, encoder: bert)
    }

    @Test func corpusTokenizesIdenticallyAndEmbedsIdentically() throws {
        let full = try Self.model()
        let corpus = ["the cat sat on the mat.", "dogs running"]
        var options = VocabularyTrim.Options()
        options.keepCharacters = false
        let trim = VocabularyTrim(tokenizer: full.tokenizer, corpus: corpus, options: options)
        let small = try trim.apply(to: full)
        #expect(small.encoder.configuration.vocabularySize == trim.keptIds.count)
        #expect(small.encoder.wordEmbeddings.weight.shape == [trim.keptIds.count, 8])
        #expect(trim.keptIds.count < Self.vocabulary.count)
        for line in corpus {
            #expect(small.tokenizer.tokenize(line) == full.tokenizer.tokenize(line))
        }
        let a = full.encode(corpus), b = small.encode(corpus)
        #expect(isClose(a, b, rtol: 1e-6, atol: 1e-6))
    }

    @Test func specialsAlwaysKeptAndUnseenWordsFallBack() throws {
        let full = try Self.model()
        let trim = VocabularyTrim(tokenizer: full.tokenizer, corpus: ["the cat"])
        let kept = Set(trim.vocabulary(of: full.tokenizer))
        for s in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] { #expect(kept.contains(s)) }
        let small = try trim.apply(to: full)
        // "dog" was trimmed away, but single characters remain: it splits into pieces, not [UNK].
        #expect(!kept.contains("dog"))
        #expect(small.tokenizer.tokenize("dog") == ["d", "##o", "##g"])
        #expect(!small.tokenizer.tokenize("dog").contains("[UNK]"))
    }

    @Test func minCountDropsRarePieces() throws {
        let full = try Self.model()
        var options = VocabularyTrim.Options()
        options.minCount = 2
        options.keepCharacters = false
        let trim = VocabularyTrim(tokenizer: full.tokenizer, corpus: ["the cat", "the dog"], options: options)
        let kept = trim.vocabulary(of: full.tokenizer)
        #expect(kept.contains("the"))
        #expect(!kept.contains("cat"))
    }
}
