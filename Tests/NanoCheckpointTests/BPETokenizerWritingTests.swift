import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import TestSupport

/// `ByteLevelBPETokenizer.write(toFolder:)`: the tokenizer a compressed Llama carries, read back by
/// `init(tokenizerJSON:)` into the same ids.
@Suite struct BPETokenizerWritingTests {
    /// A byte-level tokenizer without merges: token i is byte i (what the tiny Llama fixture's
    /// 256-token vocabulary amounts to).
    static func byteTokenizer() throws -> ByteLevelBPETokenizer {
        let tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        return try ByteLevelBPETokenizer(BPETokenizerDescription(source: "bytes", tokens: tokens, merges: [], preTokenizer: .gpt2))
    }

    @Test func byteTokenizerRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let tokenizer = try Self.byteTokenizer()
            try tokenizer.write(toFolder: dir)
            let read = try ByteLevelBPETokenizer(tokenizerJSON: dir + "/tokenizer.json")
            let text = "Hello, wörld! 123  tabs\tand\nlines"
            #expect(tokenizer.encode(text, allowSpecial: false) == Array(text.utf8).map(Int.init))
            #expect(read.encode(text, allowSpecial: false) == tokenizer.encode(text, allowSpecial: false))
            #expect(read.tokens == tokenizer.tokens && read.preTokenizer == .gpt2 && read.bosID == nil && !read.addsBOS)
        }
    }

    /// SmolLM2's GGUF tokenizer (smollm pre-tokenizer, 48,900 merges, control tokens, chat template).
    @Test(.enabled(if: SmolLM2Fixture.available, SmolLM2Fixture.skipReason))
    func smolLM2TokenizerRoundTrips() throws {
        try withTemporaryDirectory { dir in
            let tokenizer = try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: SmolLM2Fixture.path))
            try tokenizer.write(toFolder: dir)
            let read = try ByteLevelBPETokenizer(tokenizerJSON: dir + "/tokenizer.json")
            #expect(read.tokens == tokenizer.tokens && read.preTokenizer == tokenizer.preTokenizer)
            #expect(read.bosID == tokenizer.bosID && read.eosID == tokenizer.eosID && read.unknownID == tokenizer.unknownID)
            #expect(read.paddingID == tokenizer.paddingID && read.addsBOS == tokenizer.addsBOS)
            #expect(read.chatTemplateSource == tokenizer.chatTemplateSource && read.specialTokenIDs == tokenizer.specialTokenIDs)
            let texts = ["The quick brown fox: 12345 jumps.", "  def f(x):\n\treturn x ** 2  # café ☕ 東京",
                         "<|im_start|>user\nHi<|im_end|>", "Ünïcödé — emoji 🧪🚀 and 3.14159"]
            for text in texts {
                for special in [false, true] {
                    #expect(read.encode(text, allowSpecial: special) == tokenizer.encode(text, allowSpecial: special), "\(text)")
                }
            }
        }
    }
}
