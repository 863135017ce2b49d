import Testing
import NanoModels

/// The pre-tokenizer scanners on hand-checked cases (expected splits from the regexes with Python's
/// `regex` module); the golden tests in NanoCheckpointTests compare whole tokenizers with HF.
@Suite struct BPEPreTokenizerTests {
    static func words(_ p: BPEPreTokenizer, _ text: String) -> [String] {
        let utf8 = Array(text.utf8)
        return p.split(text).map { String(decoding: utf8[$0], as: UTF8.self) }
    }

    @Test func gpt2() {
        #expect(Self.words(.gpt2, "Hello  world!! It's 12345\n\n  x\t")
                == ["Hello", " ", " world", "!!", " It", "'s", " 12345", "\n\n ", " x", "\t"])
        #expect(Self.words(.gpt2, "I'M (fine)\n\n\tend  ") == ["I", "'", "M", " (", "fine", ")", "\n\n", "\t", "end", "  "])
        #expect(Self.words(.gpt2, "cafe\u{301} 日本 😀👍🏽 ½") == ["cafe", "\u{301}", " 日本", " 😀👍🏽", " ½"])
        #expect(Self.words(.gpt2, "").isEmpty)
    }

    @Test func smollmIsolatesEveryDigit() {
        #expect(Self.words(.smollm, "x 12345  ½") == ["x", " ", "1", "2", "3", "4", "5", "  ", "½"])
        #expect(Self.words(.smollm, "a1b") == ["a", "1", "b"])
    }

    @Test func llama3() {
        #expect(Self.words(.llama3, "Hello  world!! It's 12345\n\n  x\t")
                == ["Hello", " ", " world", "!!", " It", "'s", " ", "123", "45", "\n\n", " ", " x", "\t"])
        #expect(Self.words(.llama3, "I'M (fine)\n\n\tend  ") == ["I", "'M", " (", "fine", ")\n\n", "\tend", "  "])
        #expect(Self.words(.llama3, "cafe\u{301} 日本 😀👍🏽 ½") == ["cafe", "\u{301}", " 日本", " 😀👍🏽", " ", "½"])
    }

    @Test func qwen2SplitsSingleDigits() {
        #expect(Self.words(.qwen2, "It's 12345") == ["It", "'s", " ", "1", "2", "3", "4", "5"])
    }

    @Test func wordsCoverTheText() {
        let text = "  mixed\t\n text ١٢٣ 👨‍👩‍👧 e\u{301}\r\n"
        for p in BPEPreTokenizer.allCases {
            #expect(Self.words(p, text).joined() == text)
        }
    }

    @Test func ggufNames() {
        #expect(BPEPreTokenizer(ggufName: "smollm") == .smollm)
        #expect(BPEPreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(BPEPreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(BPEPreTokenizer(ggufName: "gpt2") == .gpt2)
        #expect(BPEPreTokenizer(ggufName: "tekken") == nil)
    }

    @Test func byteAlphabet() {
        let chars = ByteLevelAlphabet.characters
        #expect(Set(chars).count == 256)
        #expect(chars[0x20] == "\u{120}")     // Ġ
        #expect(chars[0x0A] == "\u{10A}")     // Ċ
        #expect(chars[0x41] == "A")
        #expect(chars[0] == "\u{100}")
        for b in 0..<256 { #expect(ByteLevelAlphabet.byte(for: chars[b]) == UInt8(b)) }
        #expect(ByteLevelAlphabet.bytes(ofSpelling: "Ġthe") == Array(" the".utf8))
        #expect(ByteLevelAlphabet.bytes(ofSpelling: "日") == nil)
    }
}
