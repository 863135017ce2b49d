import Foundation
import Testing
import NanoCheckpoint
import TestSupport

/// `nanoforge inspect` on GGUF files (the built binary): architecture, hyper-parameters, each
/// tensor's type and bits per weight, the per-type summary and the tokenizer of
/// Fixtures/checkpoints/gguf/tiny-llama.gguf (scripts/fixtures/make_gguf_quant_fixtures.py).
@Suite struct GGUFInspectCLITests {
    static let tinyLlama = RepositoryPaths.fixture("checkpoints/gguf/tiny-llama.gguf")

    @Test func tableShowsTypesHyperParametersAndTokenizer() throws {
        let result = try CommandRunner.nanoforge(["inspect", Self.tinyLlama])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { String($0) }
        func line(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }
        func words(_ s: String?) -> [String] { (s ?? "").split(separator: " ").map(String.init) }
        #expect(lines.first == "\(Self.tinyLlama) (gguf v3, 5 tensors, 19 metadata keys)")
        #expect(line("architecture:") == "architecture: llama (tiny llama)")
        #expect(line("hyper-parameters:") == "hyper-parameters: layers 2, width 64, feed-forward 256, heads 4, kv heads 2, "
                + "context 128, rope base 100000, rms eps 1e-05, vocabulary 32")
        // name, type, shape, bits/weight, bytes
        #expect(words(line("token_embd.weight")) == ["token_embd.weight", "Q8_0", "[32,", "64]", "8.50", "2176"])
        #expect(words(line("blk.0.attn_q.weight")) == ["blk.0.attn_q.weight", "Q4_1", "[64,", "64]", "5.00", "2560"])
        #expect(words(line("blk.0.ffn_down.weight")) == ["blk.0.ffn_down.weight", "Q6_K", "[2,", "256]", "6.56", "420"])
        #expect(words(line("blk.1.attn_norm.weight")) == ["blk.1.attn_norm.weight", "F16", "[64]", "16.00", "128"])
        #expect(words(line("output_norm.weight")) == ["output_norm.weight", "F32", "[64]", "32.00", "256"])
        // Per type: tensors, parameters, bytes, bits/weight; most bytes first.
        let summary = lines.drop { $0 != "types:" }.dropFirst(2).prefix(5).map(words)
        #expect(summary == [["Q4_1", "1", "4096", "2560", "5.00"], ["Q8_0", "1", "2048", "2176", "8.50"],
                            ["Q6_K", "1", "512", "420", "6.56"], ["F32", "1", "64", "256", "32.00"], ["F16", "1", "64", "128", "16.00"]])
        let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        #expect(line("tokenizer:") == "tokenizer: model gpt2, pre-tokenizer smollm, vocabulary 32, merges 2, bos 1, eos 2, "
                + "chat template yes (\(template.count) characters)")
        #expect(lines.last == "tensors: 5   parameters: 6784 (0.0 M)   bytes: 5540   bits/weight: 6.53")
        #expect(!lines.contains { $0.hasPrefix("non-finite") || $0.hasPrefix("unsupported") })
    }

    @Test func jsonCarriesTheSameFacts() throws {
        let result = try CommandRunner.nanoforge(["inspect", "--json", Self.tinyLlama])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "gguf" && object["architecture"] as? String == "llama")
        #expect(object["parameters"] as? Int == 6784 && object["bytes"] as? Int == 5540 && object["non_finite"] as? Int == 0)
        let hyper = try #require(object["hyper_parameters"] as? [String: String])
        #expect(hyper["layers"] == "2" && hyper["kv heads"] == "2" && hyper["vocabulary"] == "32")
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["type"] as? String } == ["Q8_0", "F32", "Q4_1", "Q6_K", "F16"])
        let tokenizer = try #require(object["tokenizer"] as? [String: Any])
        #expect(tokenizer["merges"] as? Int == 2 && tokenizer["pre"] as? String == "smollm" && tokenizer["chat_template"] as? Bool == true)
    }

    /// A tensor of a type nanoforge cannot dequantize is listed, named as unsupported, not fatal.
    @Test func unsupportedTypeIsNamed() throws {
        let path = RepositoryPaths.fixture("checkpoints/gguf/unsupported-mxfp4.gguf")
        let result = try CommandRunner.nanoforge(["inspect", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\nw  ") && result.stdout.contains("MXFP4"))
        #expect(result.stdout.contains("unsupported w: MXFP4 cannot be dequantized by nanoforge"))
        #expect(result.stdout.contains("tokenizer: none in the file"))
    }
}
