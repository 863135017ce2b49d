import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `perplexity` and `kl_divergence` in recipes and in `nanoforge eval`: a character decoder
/// against an int4 copy of itself made by `nanoforge compress`, and against itself.
@Suite(.serialized) struct LanguageModelEvalCLITests {
    /// A decoder folder as `nanoforge demo --chargpt --save` writes one: config.json with the
    /// characters, model.safetensors.
    static func save(_ decoder: GPTDecoder, vocabulary: CharacterVocabulary, to folder: String) throws {
        var configuration = decoder.configuration
        configuration.characters = vocabulary.characters
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = ModelSpec.decoder(configuration).nativeJSON.serialized
        try SafetensorsWriter.write(TensorStore(tensors: decoder.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) },
                                                metadata: ["nanoforge.config": config]), to: folder + "/model.safetensors")
        try config.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
    }

    /// A peaked 12-character decoder in `dir/decoder` and 600 characters of text in `dir/text.txt`.
    static func makeFixture(_ dir: String) throws {
        let vocabulary = CharacterVocabulary(corpus: "abcdefghij \n")
        try save(LanguageModelEvaluationTests.peakedDecoder(vocabulary: vocabulary.count), vocabulary: vocabulary, to: dir + "/decoder")
        try LanguageModelEvaluationTests.text(vocabulary: vocabulary, count: 600).write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
    }

    @Test func recipesDecodeTheLanguageModelTasks() throws {
        let recipe = try RecipeDecodingTests.recipe(stages: "  - quantize:", extra: """
        evaluation:
          - { task: perplexity, data: t.txt, context: 256, limit: 4 }
          - { task: kl_divergence, data: t.txt }
        """)
        #expect(recipe.evaluation.map(\.task) == [.perplexity, .klDivergence])
        #expect(recipe.evaluation[0].context == 256 && recipe.evaluation[0].limit == 4 && recipe.evaluation[1].context == nil)
        #expect(Pipeline(recipe: recipe).tasks == [.perplexity(data: "t.txt", limit: 4, context: 256), .klDivergence(data: "t.txt")])
        let misplaced = RecipeDecodingTests.error(stages: "  - quantize:", extra: "evaluation: [{ task: fidelity, data: t.txt, context: 8 }]")
        #expect(misplaced?.path == "evaluation[0].context")
        let short = RecipeDecodingTests.error(stages: "  - quantize:", extra: "evaluation: [{ task: perplexity, data: t.txt, context: 2 }]")
        #expect(short?.path == "evaluation[0].context")
        let misspelt = RecipeDecodingTests.error(stages: "  - quantize:", extra: "evaluation: [{ task: kl_divergenc, data: t.txt }]")
        #expect(misspelt?.description.contains("kl_divergence") == true)
    }

    /// RTN int4 through `compress`: the baseline's KL is 0 (the reference is the unmodified input),
    /// the int4 stage's is not; `eval` on the written folders gives the stage's figures again.
    @Test func compressAndEvalReportKLAgainstTheInput() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            try Self.makeFixture(dir)
            try """
            name: tiny-lm-int4
            model: { path: \(dir)/decoder }
            evaluation:
              - { task: perplexity, data: \(dir)/text.txt, context: 16 }
              - { task: kl_divergence, data: \(dir)/text.txt, context: 16 }
            stages:
              - quantize: { bits: 4 }
            output: { dir: \(dir)/int4 }
            """.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
            let compress = try CommandRunner.nanoforge(["compress", dir + "/recipe.yaml"])
            try #require(compress.status == 0, "\(compress.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/int4/report.json"))) as? [String: Any]
            let stages = (report?["stages"] as? [[String: Any]] ?? []).compactMap { $0["metrics"] as? [String: Double] }
            try #require(stages.count == 2)
            #expect(stages[0]["kl_mean"] == 0 && stages[0]["kl_max"] == 0 && stages[0]["same_top"] == 1 && stages[0]["delta_perplexity"] == 0)
            let int4 = stages[1]
            #expect((int4["kl_mean"] ?? 0) > 0 && (int4["same_top"] ?? 1) < 1)
            #expect(abs((int4["perplexity"] ?? 0) - (stages[0]["perplexity"] ?? 0) - (int4["delta_perplexity"] ?? 0)) < 1e-9)
            print("tiny decoder int4: baseline \(stages[0]), int4 \(int4)")

            func eval(_ model: String, _ extra: [String]) throws -> [String: Double] {
                let r = try CommandRunner.nanoforge(["eval", model, "--data", dir + "/text.txt", "--context", "16", "--json"] + extra)
                try #require(r.status == 0, "\(r.stderr)")
                return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Double] ?? [:]
            }
            let quantized = try eval(dir + "/int4", ["--task", "kl_divergence", "--reference", dir + "/decoder"])
            #expect(Set(quantized.keys) == ["kl_mean", "kl_median", "kl_p99", "kl_max", "same_top", "delta_perplexity"])
            for (key, value) in quantized { #expect(abs(value - int4[key]!) <= 1e-6 * max(1, abs(value)), "\(key)") }
            let itself = try eval(dir + "/decoder", ["--task", "kl_divergence", "--reference", dir + "/decoder"])
            #expect(itself == ["kl_mean": 0, "kl_median": 0, "kl_p99": 0, "kl_max": 0, "same_top": 1, "delta_perplexity": 0])
            let perplexity = try eval(dir + "/int4", ["--task", "perplexity"])
            #expect(abs(perplexity["perplexity"]! - int4["perplexity"]!) <= 1e-6 * int4["perplexity"]!)

            let missing = try CommandRunner.nanoforge(["eval", dir + "/decoder", "--task", "kl_divergence", "--data", dir + "/text.txt"])
            #expect(missing.status == 2 && missing.stderr == "error: --task kl_divergence needs --reference MODEL\n")
            let misplaced = try CommandRunner.nanoforge(["eval", dir + "/decoder", "--task", "retrieval", "--data", dir + "/text.txt", "--context", "8"])
            #expect(misplaced.status == 2 && misplaced.stderr == "error: --context applies to perplexity and kl_divergence only\n")
        }
    }
}
