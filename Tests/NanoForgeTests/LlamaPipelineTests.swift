import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
@testable import NanoQuant
import NanoModels
import NanoTensor
import TestSupport

/// The Llama family through evaluation and `compress`: the tiny random Llama fixture
/// (scripts/fixtures/make_tiny_llama.py) with a byte-level tokenizer (token i = byte i).
@Suite(.serialized) struct LlamaPipelineTests {
    static let fixture = RepositoryPaths.fixture("models/tiny-llama")

    /// `dir/llama`: the fixture's config.json and model.safetensors with a byte tokenizer.json;
    /// `dir/text.txt`: 400 bytes of ASCII text.
    static func makeFolder(_ dir: String) throws {
        let folder = dir + "/llama"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: fixture + "/" + name, toPath: folder + "/" + name)
        }
        let tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        try ByteLevelBPETokenizer(BPETokenizerDescription(source: "bytes", tokens: tokens, merges: [], preTokenizer: .gpt2))
            .write(toFolder: folder)
        var rng = RandomGenerator(seed: 3)
        let words = ["the", "model", "token", "of", "a", "tiny", "llama", "runs", "and", "writes", "\n"]
        var text = ""
        while text.utf8.count < 400 { text += words[Int(rng.nextUniform() * Float(words.count)) % words.count] + " " }
        try text.write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
    }

    /// llama.cpp's perplexity written out here: chunks of `context` bytes, second halves scored.
    static func perplexity(_ model: LlamaModel, text: String, context: Int) -> Double {
        let ids = Array(text.utf8).map(Int.init)
        var nll = 0.0, count = 0
        for start in stride(from: 0, through: ids.count - context, by: context) {
            let chunk = Array(ids[start..<start + context])
            let logits = model(chunk, batch: 1, length: context, tape: Tape(recording: false)).value.logSoftmax(axis: -1)
            let v = model.configuration.vocabularySize
            for j in (context / 2)..<(context - 1) { nll -= Double(logits.scalars[j * v + chunk[j + 1]]); count += 1 }
        }
        return Foundation.exp(nll / Double(count))
    }

    static func eval(_ model: String, _ arguments: [String]) throws -> [String: Double] {
        let r = try CommandRunner.nanoforge(["eval", model, "--json"] + arguments)
        try #require(r.status == 0, "\(r.stderr)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double] ?? [:]
    }

    @Test func evalPerplexityOnTheTinyLlama() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            let text = try String(contentsOfFile: dir + "/text.txt", encoding: .utf8)
            let metrics = try Self.eval(dir + "/llama", ["--task", "perplexity", "--data", dir + "/text.txt", "--context", "32"])
            let expected = Self.perplexity(try ModelLoader.load(path: dir + "/llama", as: LlamaModel.self), text: text, context: 32)
            print("tiny Llama perplexity: eval \(metrics["perplexity"] ?? .nan), by hand \(expected)")
            #expect(abs((metrics["perplexity"] ?? 0) - expected) <= 1e-4 * expected)
            // Against itself: KL 0, every top token the same.
            let kl = try Self.eval(dir + "/llama", ["--task", "kl_divergence", "--data", dir + "/text.txt", "--context", "32",
                                                    "--reference", dir + "/llama"])
            #expect(kl["kl_max"] == 0 && kl["same_top"] == 1)
        }
    }

    /// RTN int4 (groups of 16) on every Linear layer through `compress`: the output folder (packed
    /// weights, native config, tokenizer.json) loads back to the model the same quantization of the
    /// input gives, and `eval` on it repeats the report's perplexity.
    @Test func compressedTinyLlamaRoundTrips() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            try """
            name: tiny-llama-int4
            model: { path: \(dir)/llama }
            evaluation:
              - { task: perplexity, data: \(dir)/text.txt, context: 32 }
              - { task: kl_divergence, data: \(dir)/text.txt, context: 32 }
            stages:
              - quantize: { method: rtn, bits: 4, group_size: 16, targets: ["Linear"] }
            output: { dir: \(dir)/int4 }
            """.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
            let compress = try CommandRunner.nanoforge(["compress", dir + "/recipe.yaml"])
            try #require(compress.status == 0, "\(compress.stderr)")
            for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
                #expect(FileManager.default.fileExists(atPath: dir + "/int4/" + name), "\(name)")
            }

            // Save → load: the loaded model is the input with each Linear weight quantized the same way.
            let loaded = try PackedModel.load(path: dir + "/int4")
            let model = try #require(loaded.model.as(LlamaModel.self))
            #expect(loaded.model.architecture == LlamaArchitecture.self && loaded.quantized.count == 15)   // 2 × 7 in the blocks, lm_head
            let expected = try ModelLoader.load(path: dir + "/llama", as: LlamaModel.self)
            for (name, layer) in expected.layers(of: Linear.self) {
                let q = try RTN.quantize(layer.weight.value, scheme: QuantizationScheme(bits: 4, symmetric: true, granularity: .group(16)))
                layer.weight.value = q.dequantized()
                #expect(loaded.quantized[name] != nil, "\(name)")
            }
            let tokens = Array("the tiny llama writes".utf8).map(Int.init)
            let a = model(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
            let b = expected(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
            #expect(a == b)

            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/int4/report.json"))) as? [String: Any]
            let stages = (report?["stages"] as? [[String: Any]] ?? []).compactMap { $0["metrics"] as? [String: Double] }
            try #require(stages.count == 2)
            #expect(stages[0]["kl_max"] == 0 && (stages[1]["kl_mean"] ?? 0) > 0)
            let again = try Self.eval(dir + "/int4", ["--task", "perplexity", "--data", dir + "/text.txt", "--context", "32"])
            #expect(again["perplexity"] == stages[1]["perplexity"])
            let generate = try CommandRunner.nanoforge(["generate", dir + "/int4", "--prompt", "the ", "--max-tokens", "8"])
            #expect(generate.status == 0, "\(generate.stderr)")
        }
    }
}
