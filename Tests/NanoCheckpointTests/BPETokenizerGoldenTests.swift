import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import TestSupport

/// Token ids against Hugging Face `tokenizers` (Fixtures/tokenizers, scripts/fixtures/make_bpe_golden.py)
/// on 532 lines: accents, combining marks, CJK, emoji and ZWJ sequences, digit and whitespace runs,
/// code, contractions, punctuation, the empty line, documentation sentences and random mixtures.
@Suite struct BPETokenizerGoldenTests {
    /// Compares every line; reports the first differences with their text.
    static func compare(_ tokenizer: ByteLevelBPETokenizer, lines: [String], golden: [[Int]], name: String) {
        #expect(lines.count == golden.count)
        #expect(lines.count >= 500)
        var mismatches: [String] = [], roundTripFailures = 0
        for (line, expected) in zip(lines, golden) {
            let ids = tokenizer.encode(line, allowSpecial: true)
            if ids != expected { mismatches.append("\(name): \(line.debugDescription): \(ids) != \(expected)") }
            if tokenizer.decode(ids) != line { roundTripFailures += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) lines differ; first: \(mismatches.prefix(3).joined(separator: "\n"))")
        #expect(roundTripFailures == 0)
    }

    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2, BPEGoldenFixtures.missingSmolLM2Comment))
    func smolLM2FromGGUFMatchesHuggingFace() throws {
        let tokenizer = try BPEGoldenFixtures.smolLM2.get()
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && !tokenizer.addsBOS)
        #expect(tokenizer.tokenString(1) == "<|im_start|>")
        #expect(tokenizer.specialTokenIDs == Set(0...16))
        Self.compare(tokenizer, lines: try BPEGoldenFixtures.lines(), golden: try BPEGoldenFixtures.ids("smollm2.ids.txt"), name: "smollm2")
    }

    static let tiny: [(name: String, pre: BPEPreTokenizer, ggufName: String)] = [
        ("gpt2", .gpt2, "gpt2"), ("smollm", .smollm, "smollm"), ("llama3", .llama3, "llama-bpe"), ("qwen2", .qwen2, "qwen2"),
    ]

    @Test(arguments: 0..<4)
    func tinyTokenizerJSONMatchesHuggingFace(index: Int) throws {
        let t = Self.tiny[index]
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: BPEGoldenFixtures.path("\(t.name)-tiny.tokenizer.json"))
        #expect(tokenizer.preTokenizer == t.pre)
        Self.compare(tokenizer, lines: try BPEGoldenFixtures.lines(), golden: try BPEGoldenFixtures.ids("\(t.name)-tiny.ids.txt"), name: t.name)
    }

    /// The same vocabularies through the GGUF metadata path, with `tokenizer.ggml.pre` naming the pre-tokenizer.
    @Test(arguments: 0..<4)
    func tinyGGUFMetadataMatchesHuggingFace(index: Int) throws {
        let t = Self.tiny[index]
        let metadata = try BPEGoldenFixtures.ggufMetadata(tokenizerJSON: "\(t.name)-tiny.tokenizer.json", pre: t.ggufName)
        let tokenizer = try ByteLevelBPETokenizer(ggufMetadata: metadata, source: "\(t.name).gguf")
        #expect(tokenizer.preTokenizer == t.pre)
        Self.compare(tokenizer, lines: try BPEGoldenFixtures.lines(), golden: try BPEGoldenFixtures.ids("\(t.name)-tiny.ids.txt"), name: t.name)
    }

    /// `<|im_start|>` and friends are single tokens when allowed, plain text otherwise (HF's
    /// `encode_special_tokens`).
    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2, BPEGoldenFixtures.missingSmolLM2Comment))
    func specialTokensInText() throws {
        let tokenizer = try BPEGoldenFixtures.smolLM2.get()
        let cases = try BPEGoldenFixtures.json("specials.json").array!
        #expect(cases.count == 5)
        for c in cases {
            let text = c["text"]!.string!
            #expect(tokenizer.encode(text, allowSpecial: true) == BPEGoldenFixtures.intArray(c["allowed"]), "\(text.debugDescription)")
            #expect(tokenizer.encode(text, allowSpecial: false) == BPEGoldenFixtures.intArray(c["plain"]), "\(text.debugDescription)")
            #expect(tokenizer.decode(tokenizer.encode(text, allowSpecial: true)) == text)
            #expect(tokenizer.decode(tokenizer.encode(text, allowSpecial: false)) == text)
        }
        #expect(tokenizer.encode("hi", allowSpecial: false, addBOS: true).first == 1)
        #expect(tokenizer.decode(tokenizer.encode("<|im_start|>user\nhi<|im_end|>", allowSpecial: true), skipSpecial: true) == "user\nhi")
    }

    /// Very long words and whitespace runs (the priority-queue merge): HF's ids, and the text back.
    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2, BPEGoldenFixtures.missingSmolLM2Comment))
    func longRunsRoundTrip() throws {
        let tokenizer = try BPEGoldenFixtures.smolLM2.get()
        let cases = try BPEGoldenFixtures.json("long-runs.json").array!
        #expect(cases.count == 4)
        for c in cases {
            let text = String(repeating: c["unit"]!.string!, count: c["repeat"]!.int!)
            let ids = tokenizer.encode(text, allowSpecial: true)
            #expect(ids.count == c["tokens"]!.int!)
            #expect(BPEGoldenFixtures.digest(ids) == c["sha256"]!.string!)
            #expect(tokenizer.decode(ids) == text)
        }
    }

    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2, BPEGoldenFixtures.missingSmolLM2Comment))
    func loadsByPath() throws {
        let fromGGUF = try ByteLevelBPETokenizer(contentsOf: BPEGoldenFixtures.smolLM2Path)
        #expect(fromGGUF.vocabularySize == 49152)
        let fromJSON = try ByteLevelBPETokenizer(contentsOf: BPEGoldenFixtures.path("qwen2-tiny.tokenizer.json"))
        #expect(fromJSON.preTokenizer == .qwen2)
        #expect(throws: BPETokenizerError.self) { try ByteLevelBPETokenizer(contentsOf: "/nonexistent/tokenizer.json") }
    }

    /// The whole of pydoc-topics.txt (465,048 characters): the same token count and ids digest as HF.
    /// Prints nanoforge's encoding speed beside the figure the golden script printed for HF.
    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2 && FileManager.default.fileExists(atPath: RepositoryPaths.cache("data/pydoc-topics.txt")),
                   BPEGoldenFixtures.missingSmolLM2Comment))
    func pydocTopicsMatchesHuggingFace() throws {
        let tokenizer = try BPEGoldenFixtures.smolLM2.get()
        let expected = try BPEGoldenFixtures.json("pydoc-topics.json")
        let text = try String(contentsOfFile: RepositoryPaths.cache("data/pydoc-topics.txt"), encoding: .utf8)
        var best = Double.infinity, ids: [Int] = []
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            ids = tokenizer.encode(text, allowSpecial: true)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        #expect(ids.count == expected["tokens"]!.int!)
        #expect(BPEGoldenFixtures.digest(ids) == expected["sha256"]!.string!)
        #expect(tokenizer.decode(ids) == text)
        print("nanoforge BPE, SmolLM2, pydoc-topics.txt: \(ids.count) tokens in \(String(format: "%.1f", best * 1000)) ms = "
              + String(format: "%.2f", Double(ids.count) / best / 1e6) + " M tokens/s (one thread)")
    }
}
