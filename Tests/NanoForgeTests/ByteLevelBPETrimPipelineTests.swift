import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
@testable import NanoQuant
import NanoModels
import NanoTensor
import TestSupport

/// `trim_vocabulary` on a Llama-family folder through `compress`: the output (native config,
/// trimmed tokenizer.json, GGUF export) loads back with the new vocabulary, and `eval` runs on it.
@Suite(.serialized) struct ByteLevelBPETrimPipelineTests {
    /// `dir/llama`: a random tiny Llama with the trained test tokenizer; `dir/domain.txt`.
    static func makeFolder(_ dir: String) throws -> (tokenizer: ByteLevelBPETokenizer, model: LlamaModel) {
        let tokenizer = try ByteLevelBPEVocabularyTrimTests.tokenizer()
        let model = ByteLevelBPEVocabularyTrimTests.tinyLlama(vocabulary: tokenizer.vocabularySize, tied: false)
        let folder = dir + "/llama"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: folder + "/model.safetensors")
        try ModelSpec.llama(model.configuration).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        try tokenizer.write(toFolder: folder)
        try (ByteLevelBPEVocabularyTrimTests.domain.joined(separator: "\n") + "\n").write(toFile: dir + "/domain.txt", atomically: true, encoding: .utf8)
        return (tokenizer, model)
    }

    @Test func compressTrimsTheVocabularyAndTheOutputLoadsBack() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            let (tokenizer, original) = try Self.makeFolder(dir)
            try """
            name: tiny-llama-trim
            model: { path: \(dir)/llama }
            evaluation:
              - { task: perplexity, data: \(dir)/domain.txt, context: 32 }
              - { task: kl_divergence, data: \(dir)/domain.txt, context: 32 }
            stages:
              - trim_vocabulary: { corpus: \(dir)/domain.txt }
            output: { dir: \(dir)/trimmed, formats: [gguf] }
            """.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
            let compress = try CommandRunner.nanoforge(["compress", dir + "/recipe.yaml"])
            try #require(compress.status == 0, "\(compress.stderr)")

            let expected = ByteLevelBPEVocabularyTrim(tokenizer: tokenizer, corpus: ByteLevelBPEVocabularyTrimTests.domain)
            let k = expected.keptIds.count
            let loaded = try #require(try PackedModel.load(path: dir + "/trimmed").model.as(LlamaModel.self))
            #expect(loaded.configuration.vocabularySize == k && loaded.tokenEmbedding.weight.shape == [k, 32] && loaded.head?.weight.shape == [k, 32])
            #expect(loaded.tokenEmbedding.weight.value == Tensor.gatherRows(original.tokenEmbedding.weight.value, expected.keptIds))
            let written = try ByteLevelBPETokenizer(tokenizerJSON: dir + "/trimmed/tokenizer.json")
            #expect(written.tokens == expected.keptIds.map { tokenizer.tokens[$0] })
            #expect(written.tokens[written.bosID!] == tokenizer.tokens[tokenizer.bosID!])

            // The GGUF export carries the trimmed tokenizer and tables, and loads as the same model.
            let gguf = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/trimmed").first { $0.hasSuffix(".gguf") })
            let fromGGUF = try ModelLoader.load(path: dir + "/trimmed/" + gguf, as: LlamaModel.self)
            let ggufTokenizer = try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: dir + "/trimmed/" + gguf))
            #expect(ggufTokenizer.tokens == written.tokens && ggufTokenizer.eosID == written.eosID)
            let text = ByteLevelBPEVocabularyTrimTests.domain[2]
            let ids = written.encode(text, allowSpecial: false)
            #expect(ggufTokenizer.encode(text, allowSpecial: false) == ids)
            // The export writes the matrices as Q8_0: the same function up to that rounding.
            let relative = PassContext.relativeError(loaded.logits(ids), fromGGUF.logits(ids))
            #expect(relative < 0.06, "‖Δ‖/‖logits‖ = \(relative)")   // measured 0.027 (trim), below 0.02 (prune)

            // `eval` reads the folder with its own tokenizer and repeats the report's perplexity.
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/trimmed/report.json"))) as? [String: Any]
            let stages = (report?["stages"] as? [[String: Any]] ?? []).compactMap { $0["metrics"] as? [String: Double] }
            try #require(stages.count == 2)
            let r = try CommandRunner.nanoforge(["eval", dir + "/trimmed", "--json", "--task", "perplexity", "--data", dir + "/domain.txt", "--context", "32"])
            try #require(r.status == 0, "\(r.stderr)")
            let again = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double]
            #expect(again?["perplexity"] == stages[1]["perplexity"])
            // Against the untrimmed reference, ids matched by token: the trim alone changes nothing
            // on the tokens it keeps (KL 0), and the reference's mass on the others is reported.
            #expect(stages[0]["kl_rest_mass"] == nil && stages[0]["kl_max"] == 0)
            #expect((stages[1]["kl_max"] ?? 1) < 1e-6 && (stages[1]["kl_rest_mass"] ?? 0) > 0 && (stages[1]["same_top"] ?? 2) <= 1, "\(stages[1])")
            // Same pieces, fewer competitors in the softmax: the perplexity can only drop.
            #expect((stages[1]["perplexity"] ?? .infinity) <= (stages[0]["perplexity"] ?? 0) * (1 + 1e-6))
        }
    }
}
