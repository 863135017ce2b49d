import Testing
@testable import NanoModels

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

    /// Merges apply lowest rank first, the leftmost pair on ties (HF `merge_word`).
    @Test func mergeOrder() throws {
        let bytes = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        var d = BPETokenizerDescription(source: "test", tokens: bytes + ["aa", "aaa", "ab"],
                                        merges: [("a", "b"), ("a", "a"), ("aa", "a")], preTokenizer: .gpt2)
        d.addedTokens = []
        let t = try ByteLevelBPETokenizer(d)
        let aa = 256, aaa = 257, ab = 258
        #expect(t.encode("aaaa", allowSpecial: true) == [aa, aa])        // leftmost "a a" first, then "a a" again
        #expect(t.encode("aaab", allowSpecial: true) == [aa, ab])        // "a b" ranks first
        #expect(t.encode("aaa", allowSpecial: true) == [aaa])
        #expect(t.decode([aa, ab]) == "aaab")
        #expect(t.encode("", allowSpecial: true).isEmpty)
    }
}

/// The priority-queue merge (long words) against the plain scan, on a random consistent vocabulary.
@Suite struct BPEMergeQueueTests {
    @Test func queueAgreesWithScan() throws {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        var tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        var merges: [(left: String, right: String)] = []
        let alphabet = ["a", "b", "c", "Ġ"]
        var pool = alphabet
        var seen = Set(tokens)
        while merges.count < 60 {
            let l = pool[Int(next() % UInt64(pool.count))], r = pool[Int(next() % UInt64(pool.count))]
            guard !seen.contains(l + r) else { continue }
            seen.insert(l + r)
            tokens.append(l + r)
            merges.append((l, r))
            pool.append(l + r)
        }
        let t = try ByteLevelBPETokenizer(BPETokenizerDescription(source: "random", tokens: tokens, merges: merges, preTokenizer: .gpt2))
        for _ in 0..<300 {
            let length = 2 + Int(next() % 300)
            let word = (0..<length).map { _ in UInt8(ascii: ["a", "b", "c", " "][Int(next() % 4)]) }
            let symbols = word.map { t.byteTokens[Int($0)] }
            #expect(t.mergeByQueue(symbols) == t.mergeByScan(symbols))
        }
    }
}
