import Testing
@testable import NanoModels

/// BPE merge order, and the priority-queue merge (long words) against the plain scan.
@Suite struct BPEMergeTests {
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
