import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// The pipeline end to end on a tiny BERT written to a temporary folder.
@Suite struct PipelineTests {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "ran",
                             "a", "big", "red", "ball", "##s", ".", ",", "and", "in", "park", "sun", "is", "hot"]

    /// Writes model.safetensors, config.json, vocab.txt and data files; returns the folder.
    static func makeFixture(_ dir: String, intermediateWidth: Int = 64) throws {
        var rng = RandomGenerator(seed: 11)
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 32, layers: 2, heads: 4, intermediateWidth: intermediateWidth,
                                          maxPositions: 64)
        let bert = BertEncoder(c, rng: &rng)
        let store = TensorStore(tensors: bert.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) })
        try FileManager.default.createDirectory(atPath: dir + "/model", withIntermediateDirectories: true)
        try SafetensorsWriter.write(store, to: dir + "/model/model.safetensors")
        try ModelSpec.bert(c).nativeJSON.serialized.write(toFile: dir + "/model/config.json", atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(toFile: dir + "/model/vocab.txt", atomically: true, encoding: .utf8)
        let sentences = ["the cat sat on the mat.", "a big red ball", "the dog ran in the park", "the sun is hot",
                         "cats and dogs", "the red ball is big", "a dog sat on a mat", "the park is hot"]
        try (sentences.joined(separator: "\n") + "\n").write(toFile: dir + "/sentences.txt", atomically: true, encoding: .utf8)
        let pairs = zip(sentences, sentences.reversed()).map { "\($0)\t\($0)" }
        try (pairs.joined(separator: "\n") + "\n").write(toFile: dir + "/pairs.tsv", atomically: true, encoding: .utf8)
    }

    static func recipe(_ dir: String, stages: String) -> String {
        """
        name: tiny
        model: { path: \(dir)/model }
        data:
          calibration: { path: \(dir)/sentences.txt, samples: 8 }
        evaluation:
          - { task: fidelity, data: \(dir)/sentences.txt }
          - { task: retrieval, data: \(dir)/pairs.tsv }
        stages:
        \(stages)
        output: { dir: \(dir)/out }
        """
    }

    @Test func quantizeAndPruneRunAndWriteEverything() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFixture(dir)
            let yaml = Self.recipe(dir, stages: """
              - prune: { method: wanda, pattern: "2:4", targets: ["encoder.layer.*"] }
              - quantize: { method: gptq, bits: 4, group_size: 32, targets: ["Linear"] }
            """)
            let recipe = try Recipe(yaml: yaml, file: "tiny.yaml")
            let report = try Pipeline(recipe: recipe).run()
            #expect(report.stages.map(\.name) == ["baseline", "1:prune", "2:quantize"])
            let (base, pruned, quantized) = (report.stages[0], report.stages[1], report.stages[2])
            #expect(base.metrics["cosine_mean"].map { abs($0 - 1) < 1e-6 } == true)
            #expect(abs(pruned.sparsity - 0.5) < 0.02)       // 2:4 on the 12 encoder Linears; none elsewhere
            #expect(quantized.sizeBytes < pruned.sizeBytes)
            #expect(quantized.metrics["cosine_mean"]! < 1)
            for file in ["model.safetensors", "config.json", "vocab.txt", "recipe.yaml",
                         "report.json", "report.md", "report.html"] {
                #expect(FileManager.default.fileExists(atPath: "\(dir)/out/\(file)"), "\(file)")
            }
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/out/packed.safetensors"))
            // model.safetensors holds the quantized Linears packed, and loads back through SentenceEncoder.load.
            let stored = try SafetensorsReader.read(path: "\(dir)/out/model.safetensors")
            #expect(stored["encoder.layer.0.attention.self.query.weight.qweight"]?.dtype == .u8)
            #expect(stored["encoder.layer.0.attention.self.query.weight"] == nil)
            #expect(stored["encoder.layer.0.attention.self.query.bias"]?.dtype == .f32)
            #expect(stored.metadata["nanoforge.recipe"] == recipe.text)
            let loaded = try SentenceEncoder.load(path: "\(dir)/out")
            #expect(loaded.encoder.configuration.layers == 2)
            let (encoder, packedLayers) = try SentenceEncoder.loadPacked(path: "\(dir)/out")
            #expect(packedLayers.count == 12)                 // 6 Linears in each of the 2 layers
            let query = try #require(packedLayers["encoder.layer.0.attention.self.query"])
            #expect(query.scheme == QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)))
            let weight = try #require(encoder.encoder.namedParameters.first { $0.name == "encoder.layer.0.attention.self.query.weight" })
            #expect(weight.variable.value.scalars.map(\.bitPattern) == query.dequantized().scalars.map(\.bitPattern))
            #expect(report.layers.first { $0.name == "encoder.layer.0.intermediate.dense" }?.bits == 4)
        }
    }

    @Test func structuredPruningAndTrimShrinkTheModel() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFixture(dir)
            // A domain corpus that uses only some of the word pieces.
            try "the cat sat on the mat.\nthe sun is hot\n".write(toFile: dir + "/domain.txt", atomically: true, encoding: .utf8)
            let yaml = Self.recipe(dir, stages: """
              - prune_structured: { ffn_ratio: 0.5 }
              - trim_vocabulary: { corpus: [\(dir)/domain.txt] }
            """)
            let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml")).run()
            #expect(report.stages[1].parameters < report.stages[0].parameters)
            #expect(report.stages[2].parameters < report.stages[1].parameters)
            let loaded = try SentenceEncoder.load(path: "\(dir)/out")
            #expect(loaded.tokenizer.vocabulary.count < Self.vocabulary.count)
        }
    }

    @Test func missingDataFailsBeforeWorkAndLeavesNoOutput() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFixture(dir)
            let yaml = Self.recipe(dir, stages: "  - quantize: { bits: 8 }").replacingOccurrences(of: "pairs.tsv", with: "missing.tsv")
            #expect(throws: PipelineError.missingFile(recipe: "tiny.yaml", field: "evaluation[1].data", path: "\(dir)/missing.tsv")) {
                try Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml")).run()
            }
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/out"))
        }
    }
}
