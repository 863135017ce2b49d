import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// The pipeline on the bundled digits classifier (Recipes/quickstart.yaml's model), and the
/// options that act on layer subsets: `prune_structured` targets and static activations.
@Suite struct PipelineClassifierTests {
    static let fixture = RepositoryPaths.fixture("models/digits-mlp")

    static func recipe(_ dir: String, stages: String, evaluation: String? = nil) -> String {
        """
        name: digits
        model: { path: \(fixture) }
        data:
          calibration: { path: \(fixture)/calibration.tsv, samples: 128 }
        evaluation:
        \(evaluation ?? """
          - { task: classification, train: \(fixture)/calibration.tsv, test: \(fixture)/test.tsv }
          - { task: fidelity, data: \(fixture)/test.tsv }
        """)
        stages:
        \(stages)
        output: { dir: \(dir)/out }
        """
    }

    /// Wanda then GPTQ int4 with int8 activations: the classifier keeps its accuracy within two
    /// points, the pruned zeros survive quantization, and every layer reports its output error.
    @Test func pruneThenQuantizeKeepsAccuracyAndSparsity() throws {
        try withTemporaryDirectory { dir in
            let yaml = Self.recipe(dir, stages: """
              - prune: { method: wanda, sparsity: 0.5 }
              - quantize: { method: gptq, bits: 4, group_size: 32, activations: { bits: 8, observer: mse } }
            """)
            let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "digits.yaml")).run()
            let (base, pruned, quantized) = (report.stages[0], report.stages[1], report.stages[2])
            print("digits: accuracy \(base.metrics["accuracy"]!) → \(pruned.metrics["accuracy"]!) → \(quantized.metrics["accuracy"]!), size \(base.sizeBytes) → \(quantized.sizeBytes)")
            #expect(base.metrics["accuracy"]! > 0.95)
            #expect(quantized.metrics["accuracy"]! > base.metrics["accuracy"]! - 0.02)
            #expect(abs(pruned.sparsity - 0.5) < 1e-9)
            // Every pruned zero survives; a few kept weights may round to 0 as well.
            #expect(quantized.sparsity >= 0.5 && quantized.sparsity < 0.52, "GPTQ must keep the pruned zeros: \(quantized.sparsity)")
            #expect(quantized.sizeBytes * 5 < base.sizeBytes)
            for layer in report.layers {
                #expect(layer.bits == 4 && layer.activationBits == 8)
                let error = try #require(layer.relativeOutputError)
                #expect(error > 0 && error < 0.5, "\(layer.name): \(error)")
            }
            #expect(FileManager.default.fileExists(atPath: dir + "/out/config.json"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/out/vocab.txt"))
        }
    }

    /// Activation quantization changes the outputs (it is really applied), by less than 8-bit
    /// weights would suggest is reasonable, and only on the selected layers.
    @Test func activationQuantizationIsSimulatedOnSelectedLayers() throws {
        try withTemporaryDirectory { dir in
            let weightsOnly = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, stages: "  - quantize: { bits: 8 }"), file: "a.yaml")).run()
            let yaml = Self.recipe(dir, stages: "  - quantize: { bits: 8, activations: { bits: 8 }, targets: [layers.1] }")
            let both = try Pipeline(recipe: try Recipe(yaml: yaml, file: "b.yaml")).run()
            let cosWeights = weightsOnly.stages[1].metrics["cosine_mean"]!, cosBoth = both.stages[1].metrics["cosine_mean"]!
            print("digits int8: cosine weights only \(cosWeights), weights+activations on layers.1 \(cosBoth)")
            #expect(cosBoth != cosWeights)
            #expect(cosBoth > 0.99)
            #expect(both.layers.map(\.activationBits) == [nil, 8])
            #expect(both.layers.map(\.bits) == [nil, 8])
        }
    }

    /// Structured pruning acts only on the layers its targets select; `scope: global` removes the
    /// overall ratio with layers losing different amounts.
    @Test func structuredPruningHonoursTargetsAndGlobalScope() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let base = PipelineTests.recipe(dir, stages: "  - prune_structured: { ffn_ratio: 0.5, targets: [\"encoder.layer.1.*\"] }")
            let report = try Pipeline(recipe: try Recipe(yaml: base, file: "tiny.yaml")).run()
            let shapes = Dictionary(uniqueKeysWithValues: report.layers.map { ($0.name, $0.shape) })
            #expect(shapes["encoder.layer.0.intermediate.dense"] == [64, 32])
            #expect(shapes["encoder.layer.1.intermediate.dense"] == [32, 32])
            #expect(shapes["encoder.layer.1.attention.self.query"] == [32, 32])

            let global = PipelineTests.recipe(dir, stages: "  - prune_structured: { ffn_ratio: 0.5, scope: global }")
            let globalReport = try Pipeline(recipe: try Recipe(yaml: global, file: "tiny.yaml")).run()
            let widths = ["encoder.layer.0.intermediate.dense", "encoder.layer.1.intermediate.dense"].map { name in
                globalReport.layers.first { $0.name == name }!.shape[0]
            }
            #expect(widths.reduce(0, +) == 64)
            let loaded = try SentenceEncoder.load(path: dir + "/out")
            #expect(loaded.encoder.layers.map(\.feedForward.hiddenWidth) == widths)
        }
    }

    /// Passes that need a sentence encoder refuse a classifier with a message naming the stage.
    @Test func encoderOnlyPassesRefuseAClassifier() throws {
        try withTemporaryDirectory { dir in
            let yaml = Self.recipe(dir, stages: "  - prune_structured: { ffn_ratio: 0.5 }")
            #expect(throws: PipelineError.self) { try Pipeline(recipe: try Recipe(yaml: yaml, file: "digits.yaml")).run() }
            do { try Pipeline(recipe: try Recipe(yaml: yaml, file: "digits.yaml")).run() } catch {
                #expect("\(error)".contains("stages[0].prune_structured") && "\(error)".contains("classifier"))
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        }
    }
}

/// `mixed_precision` on the digits classifier: the allocation meets the budget, the report
/// carries the sensitivities, the frontier and measured points, and more bits cost less loss.
@Suite struct MixedPrecisionPipelineTests {
    @Test func averageBitsBudgetIsMetWithAMeasuredFrontier() throws {
        try withTemporaryDirectory { dir in
            let yaml = PipelineClassifierTests.recipe(dir, stages: """
              - mixed_precision: { candidates: [2, 4, 8], budget: { average_bits: 5 }, group_size: 32 }
            """)
            let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "digits.yaml")).run()
            let mp = try #require(report.mixedPrecision)
            #expect(mp.chosen.averageBits <= 5 + 1e-9)
            #expect(mp.sensitivities.map(\.layer) == ["layers.0", "layers.1"])
            for s in mp.sensitivities { #expect(s.loss[0] > s.loss[2], "\(s.layer): 2 bits must hurt more than 8") }
            #expect(mp.frontier.count >= 3)
            #expect(mp.frontier.contains { $0.measuredLoss != nil })
            let chosenLoss = try #require(mp.chosen.measuredLoss)
            print("digits mixed precision: choice \(mp.choice), avg bits \(mp.chosen.averageBits), predicted \(mp.chosen.predictedLoss), measured \(chosenLoss), accuracy \(report.stages[1].metrics["accuracy"]!)")
            #expect(Set(report.layers.compactMap(\.bits)) == Set(mp.choice.values))
            #expect(report.stages[1].metrics["accuracy"]! > 0.9)
            let html = try String(contentsOfFile: dir + "/out/report.html", encoding: .utf8)
            #expect(html.contains("Pareto frontier"))
        }
    }

    @Test func anImpossibleBudgetNamesTheStage() throws {
        try withTemporaryDirectory { dir in
            let yaml = PipelineClassifierTests.recipe(dir, stages: "  - mixed_precision: { candidates: [4, 8], budget: { size_mb: 0.001 } }")
            #expect(throws: PipelineError.self) { try Pipeline(recipe: try Recipe(yaml: yaml, file: "digits.yaml")).run() }
        }
    }
}

/// `targets: [Embedding]` quantizes the embedding tables (round-to-nearest, rows as channels):
/// they are stored packed, reported, and load back.
@Suite struct EmbeddingQuantizationTests {
    @Test func embeddingTablesQuantizeAndLoadBack() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let yaml = PipelineTests.recipe(dir, stages: "  - mixed_precision: { candidates: [4, 8], budget: { average_bits: 6 }, group_size: 16, targets: [Linear, Embedding] }")
            let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml")).run()
            let embeddings = report.layers.filter { $0.kind == "Embedding" }
            #expect(embeddings.map(\.name) == ["embeddings.word_embeddings", "embeddings.position_embeddings", "embeddings.token_type_embeddings"])
            #expect(embeddings.allSatisfy { $0.bits != nil })
            let (encoder, quantized) = try SentenceEncoder.loadPacked(path: dir + "/out")
            let q = try #require(quantized["embeddings.word_embeddings"])
            #expect(encoder.encoder.wordEmbeddings.weight.value.scalars == q.dequantized().scalars)
            #expect(report.stages[1].sizeBytes * 3 < report.stages[0].sizeBytes)
        }
    }
}

/// `qat` on the digits classifier: 2-bit weights after quantization-aware training recover
/// accuracy that post-training 2-bit RTN loses, and the packed result is what training saw.
@Suite struct QATPipelineTests {
    @Test func twoBitQATBeatsTwoBitRTN() throws {
        try withTemporaryDirectory { dir in
            let fixture = PipelineClassifierTests.fixture
            let rtn = try Pipeline(recipe: try Recipe(yaml: PipelineClassifierTests.recipe(dir, stages: "  - quantize: { bits: 2 }"), file: "r.yaml")).run()
            let qatYAML = PipelineClassifierTests.recipe(dir, stages: """
              - qat: { bits: 2, data: \(fixture)/calibration.tsv, steps: 120, batch_size: 32, learning_rate: 0.002, warmup: 10 }
            """)
            let qat = try Pipeline(recipe: try Recipe(yaml: qatYAML, file: "q.yaml")).run()
            let (rtnAccuracy, qatAccuracy) = (rtn.stages[1].metrics["accuracy"]!, qat.stages[1].metrics["accuracy"]!)
            print("digits 2-bit weights: accuracy RTN \(rtnAccuracy), QAT \(qatAccuracy) (fp32 \(qat.stages[0].metrics["accuracy"]!))")
            #expect(qatAccuracy > rtnAccuracy + 0.02)
            #expect(qat.layers.allSatisfy { $0.bits == 2 })
            let reloaded = try PackedModel.load(path: dir + "/out")
            #expect(reloaded.quantized.count == 2)
        }
    }
}

/// `prune` with a schedule on the digits classifier: gradual magnitude pruning to 90 % with
/// recovery between mask updates keeps more accuracy than one-shot magnitude pruning to 90 %.
@Suite struct ScheduledPruningTests {
    @Test func gradualPruningWithRecoveryBeatsOneShot() throws {
        try withTemporaryDirectory { dir in
            let fixture = PipelineClassifierTests.fixture
            let oneShot = try Pipeline(recipe: try Recipe(yaml: PipelineClassifierTests.recipe(dir, stages: "  - prune: { sparsity: 0.9 }"), file: "o.yaml")).run()
            let yaml = PipelineClassifierTests.recipe(dir, stages: """
              - prune: { schedule: { final: 0.9, end_step: 100, update_every: 20, data: \(fixture)/calibration.tsv, steps: 140, learning_rate: 0.002, warmup: 10 } }
            """)
            let gradual = try Pipeline(recipe: try Recipe(yaml: yaml, file: "g.yaml")).run()
            let (a, b) = (oneShot.stages[1].metrics["accuracy"]!, gradual.stages[1].metrics["accuracy"]!)
            print("digits 90 % sparsity: accuracy one-shot \(a), gradual with recovery \(b) (fp32 \(gradual.stages[0].metrics["accuracy"]!))")
            #expect(abs(gradual.stages[1].sparsity - 0.9) < 0.001)
            // Recovery after the last mask update (step 100) lowers the loss that pruning raised.
            expectLossFell(gradual.stages[1], steps: 100..<140)
            #expect(b > a + 0.02)
        }
    }
}
