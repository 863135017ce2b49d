import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `trim_vocabulary` on byte-level BPE decoders (`ByteLevelBPEVocabularyTrim`): any text still
/// round-trips, in-domain text keeps its pieces, every kept token stays reachable by merges, and
/// the trimmed model's logits are the original's restricted to the kept ids.
@Suite struct ByteLevelBPEVocabularyTrimTests {
    static let general = """
    the weather today is sunny with a light wind from the west and rain is expected tomorrow evening
    the committee will meet on monday to discuss the budget for the coming year and the new library
    a function returns a value and a class defines methods that an instance of the class can call
    the river runs through the valley where farmers grow wheat and barley in the summer months
    exceptions are raised when an operation fails and a handler can catch the exception and recover
    """
    static let domain = [
        "a function returns a value and a class defines methods",
        "an instance of the class can call the methods of the class",
        "exceptions are raised when an operation fails",
        "a handler can catch the exception and recover from the failure",
    ]

    static func tokenizer() throws -> ByteLevelBPETokenizer {
        try BPETestTokenizer.make(trainingText: general + " " + domain.joined(separator: " "), merges: 160)
    }

    static func pieces(_ t: ByteLevelBPETokenizer, _ text: String) -> [String] {
        t.encode(text, allowSpecial: true).map { t.tokens[$0] }
    }

    /// Text no corpus covers: emoji, CJK, combining marks, control characters, special-token
    /// text, out-of-domain words, and random scalars from several planes.
    static func unseenTexts() -> [String] {
        var texts = ["🦙 llamas 🧪 ünïcödé naïve façade", "日本語のテキスト、中文文本", "\u{0}\u{1}\u{7F}\t\r\n  ",
                     "e\u{301}\u{302} Zalgo\u{336}\u{337}", "<|im_start|>user\nhi<|im_end|>", "xylophone quizzically zephyr",
                     "", " ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
        var rng = RandomGenerator(seed: 11)
        let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x400...0x4FF, 0x3040...0x30FF, 0x4E00...0x4FFF,
                                             0x1F300...0x1F6FF, 0x10000...0x1000F, 0x0...0x1F]
        for _ in 0..<40 {
            var s = String.UnicodeScalarView()
            for _ in 0..<(1 + Int(rng.nextUniform() * 30)) {
                let r = ranges[Int(rng.nextUniform() * Float(ranges.count)) % ranges.count]
                let v = r.lowerBound + UInt32(rng.nextUniform() * Float(r.upperBound - r.lowerBound + 1)) % (r.upperBound - r.lowerBound + 1)
                if let scalar = Unicode.Scalar(v) { s.append(scalar) }
            }
            texts.append(String(s))
        }
        return texts
    }

    @Test func anyTextRoundTripsAndDomainTextKeepsItsPieces() throws {
        let full = try Self.tokenizer()
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: Self.domain)
        let small = try trim.tokenizer(of: full)
        #expect(small.vocabularySize == trim.keptIds.count && small.vocabularySize < full.vocabularySize)
        #expect(small.definition.merges.count < full.definition.merges.count)
        #expect(small.byteTokenIDs.count == 256)
        for text in Self.unseenTexts() + Self.domain {
            #expect(small.decode(small.encode(text, allowSpecial: false)) == text, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(small.decode(small.encode(text, allowSpecial: true)) == text)
        }
        // In-domain text: the corpus, and new text made of its pre-tokenizer words (those with
        // their leading space, so that concatenating them keeps the words), gives the same pieces.
        let words = Self.domain.flatMap(BPETestTokenizer.words).filter { $0.first == 0x20 }.map { String(decoding: $0, as: UTF8.self) }
        var inDomain = Self.domain
        var rng = RandomGenerator(seed: 2)
        for _ in 0..<20 { inDomain.append((0..<8).map { _ in words[Int(rng.nextUniform() * Float(words.count)) % words.count] }.joined()) }
        for text in inDomain { #expect(Self.pieces(small, text) == Self.pieces(full, text), "\(text)") }
        // Out-of-domain words split into more pieces, but still into valid ones.
        #expect(small.encode("the weather in the valley", allowSpecial: false).count > full.encode("the weather in the valley", allowSpecial: false).count)
        // Specials and the chat template come along, re-numbered.
        for (id, field) in [(small.bosID, "bos"), (small.eosID, "eos"), (small.paddingID, "pad")] {
            let id = try #require(id, "\(field)")
            #expect(BPETestTokenizer.specials.contains(small.tokens[id]))
        }
        #expect(small.tokens[small.bosID!] == full.tokens[full.bosID!] && small.tokens[small.eosID!] == full.tokens[full.eosID!])
        #expect(small.chatTemplateSource == BPETestTokenizer.chatTemplate)
        #expect(small.encode("<|im_start|>x", allowSpecial: true).first == small.bosID)
    }

    @Test func everyKeptTokenIsReachableByTheRewrittenMerges() throws {
        let full = try Self.tokenizer()
        let small = try ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: Self.domain).tokenizer(of: full)
        for id in 0..<small.vocabularySize where !small.isAddedToken(id) {
            #expect(small.mergePieces(small.bytes(ofToken: id)) == [id], "\(small.tokens[id])")
        }
        // Every surviving merge has its parts and result kept (the tokenizer would refuse otherwise).
        let spellings = Set(small.tokens)
        #expect(small.definition.merges.allSatisfy { spellings.contains($0.left) && spellings.contains($0.right) })
    }

    /// "abc" needs the intermediate "ab", which no corpus piece is: the trim keeps it. Without it,
    /// the merge ab+c could not apply and "abc" would fall apart into bytes.
    @Test func intermediatesOfAMergeChainAreKept() throws {
        let bytes = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        let d = BPETokenizerDescription(source: "chain", tokens: bytes + ["ab", "abc", "xy"],
                                        merges: [("a", "b"), ("ab", "c"), ("x", "y")], preTokenizer: .gpt2)
        let full = try ByteLevelBPETokenizer(d)
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: ["abc"])
        #expect(trim.keptIds == Array(0..<256) + [256, 257])
        #expect(trim.intermediateCount == 1 && trim.counts.suffix(2) == [0, 1])
        let small = try trim.tokenizer(of: full)
        #expect(small.definition.merges.map { $0.left + " " + $0.right } == ["a b", "ab c"])
        #expect(Self.pieces(small, "abc") == ["abc"] && Self.pieces(small, "xy") == ["x", "y"])
        // The alternative, dropping the intermediate, breaks the chain: what the rule prevents.
        let broken = try full.trimmed(keeping: Array(0..<256) + [257])
        #expect(Self.pieces(broken, "abc") == ["a", "b", "c"])
    }

    /// A vocabulary entry its own bytes never merge into (no rule builds it) is never a piece,
    /// so the trim drops it even when it would otherwise look used.
    @Test func unreachableTokensAreNotKept() throws {
        let bytes = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        let full = try ByteLevelBPETokenizer(BPETokenizerDescription(source: "orphan", tokens: bytes + ["ab", "zz"],
                                                                     merges: [("a", "b")], preTokenizer: .gpt2))
        #expect(full.mergeDerivation(ofToken: 257).pieces == [Int(UInt8(ascii: "z")), Int(UInt8(ascii: "z"))])
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: ["ab zz"])
        #expect(trim.keptIds == Array(0..<257))
    }

    static func tinyLlama(vocabulary: Int, tied: Bool) -> LlamaModel {
        var rng = RandomGenerator(seed: 7)
        let c = LlamaConfiguration(vocabularySize: vocabulary, width: 32, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 48,
                                   contextLength: 64, tiedEmbeddings: tied)
        let model = LlamaModel(c, rng: &rng)
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        return model
    }

    /// Logits of the trimmed model on in-domain text equal the original's columns at the kept ids.
    static func checkRestrictedLogits(_ model: LlamaModel, full: ByteLevelBPETokenizer, corpus: [String], text: String,
                                      rtol: Float = 1e-5, atol: Float = 1e-5) throws {
        let tokens = full.encode(text, allowSpecial: false)
        let before = model.logits(tokens)
        let vocabulary = model.vocabularySize
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: corpus)
        let parametersBefore = model.parameterCount
        let small = try trim.apply(to: model, tokenizer: full)
        #expect(model.configuration.vocabularySize == trim.keptIds.count && model.tokenEmbedding.weight.shape[0] == trim.keptIds.count)
        #expect(model.head.map { $0.weight.shape[0] == trim.keptIds.count } ?? true)
        let removedRows = (vocabulary - trim.keptIds.count) * model.configuration.width * (model.head == nil ? 1 : 2)
        #expect(model.parameterCount == parametersBefore - removedRows)
        let trimmedTokens = small.encode(text, allowSpecial: false)
        #expect(trimmedTokens.map { trim.keptIds[$0] } == tokens)
        let after = model.logits(trimmedTokens)
        var expected: [Float] = []
        for t in 0..<tokens.count { expected += trim.keptIds.map { before.scalars[t * vocabulary + $0] } }
        let restricted = Tensor(shape: [tokens.count, trim.keptIds.count], scalars: expected)
        #expect(after.shape == restricted.shape && isClose(after, restricted, rtol: rtol, atol: atol))
    }

    @Test(arguments: [false, true])
    func trimmedTinyLlamaGivesTheRestrictedLogits(tied: Bool) throws {
        let full = try Self.tokenizer()
        try Self.checkRestrictedLogits(Self.tinyLlama(vocabulary: full.vocabularySize, tied: tied), full: full, corpus: Self.domain,
                                       text: Self.domain[1] + " " + Self.domain[3])
    }

    /// SmolLM2-135M-Instruct with the first 300 lines of pydoc-topics.txt as the domain.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: SmolLM2.path) && FileManager.default.fileExists(atPath: SmolLM2.pydoc),
                   "skipped: SmolLM2-135M-Instruct.Q4_1.gguf or pydoc-topics.txt is missing from .cache (scripts/setup.sh)"))
    func trimmedSmolLM2GivesTheRestrictedLogits() throws {
        let full = try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: SmolLM2.path))
        let model = try ModelLoader.load(path: SmolLM2.path, as: LlamaModel.self)
        let corpus = try String(contentsOfFile: SmolLM2.pydoc, encoding: .utf8).split(whereSeparator: \.isNewline).prefix(300).map(String.init)
        let trim = ByteLevelBPEVocabularyTrim(tokenizer: full, corpus: corpus)
        let small = try trim.tokenizer(of: full)
        print("SmolLM2 trimmed to \(trim.keptIds.count) of \(full.vocabularySize) tokens (\(trim.intermediateCount) intermediates), \(small.definition.merges.count) merges")
        #expect(trim.keptIds.count < full.vocabularySize / 4)
        // SmolLM2's vocabulary has no token for the control bytes 0x04 0x06 0x13 0x14 0x16 0x1D (nor
        // for bytes UTF-8 never uses), so its own tokenizer drops them: the trimmed one round-trips
        // whatever the original does, and text without those bytes exactly.
        let missing = Set(0..<256).subtracting(full.byteTokenIDs.map { full.bytes(ofToken: $0)[0] }.map(Int.init))
        #expect(small.byteTokenIDs.count == full.byteTokenIDs.count)
        for text in Self.unseenTexts() {
            let again = small.decode(small.encode(text, allowSpecial: false))
            #expect(again == full.decode(full.encode(text, allowSpecial: false)))
            if !text.utf8.contains(where: { missing.contains(Int($0)) }) { #expect(again == text) }
        }
        for line in corpus.prefix(100) { #expect(Self.pieces(small, line) == Self.pieces(full, line)) }
        for id in 0..<small.vocabularySize where !small.isAddedToken(id) { #expect(small.mergePieces(small.bytes(ofToken: id)) == [id]) }
        // The chat template's tokens survive.
        let chat = small.encode("<|im_start|>user\n<|im_end|>", allowSpecial: true)
        #expect(small.tokens[chat.first!] == "<|im_start|>" && small.tokens[chat.last!] == "<|im_end|>")
        // Written out as tokenizer.json and read back: the same ids.
        try withTemporaryDirectory { dir in
            try small.write(toFolder: dir)
            let back = try ByteLevelBPETokenizer(tokenizerJSON: dir + "/tokenizer.json")
            for line in corpus.prefix(50) { #expect(back.encode(line, allowSpecial: true) == small.encode(line, allowSpecial: true)) }
            #expect(back.bosID == small.bosID && back.eosID == small.eosID)
        }
        try Self.checkRestrictedLogits(model, full: full, corpus: corpus, text: String(corpus[10].prefix(120)), rtol: 1e-4, atol: 1e-4)
    }

    enum SmolLM2 {
        static let path = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
        static let pydoc = RepositoryPaths.cache("data/pydoc-topics.txt")
    }
}
