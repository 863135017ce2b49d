import Testing
@testable import NanoForge

/// Decoding of valid recipes into typed options, and targeted error cases. No tensors, no files.
struct RecipeDecodingTests {
    static func recipe(stages: String, extra: String = "") throws -> Recipe {
        try Recipe(yaml: """
        name: t
        model: { path: m }
        \(extra)
        stages:
        \(stages)
        output: { dir: out }
        """, file: "t.yaml")
    }

    static func error(stages: String, extra: String = "") -> RecipeError? {
        do {
            _ = try recipe(stages: stages, extra: extra)
            return nil
        } catch {
            return error as? RecipeError
        }
    }

    @Test func quantizeDefaults() throws {
        let recipe = try Self.recipe(stages: "  - quantize:")
        guard let options = recipe.stages.first?.pass as? QuantizePass else { Issue.record("not quantize"); return }
        #expect(options.method == .rtn && options.gptq == nil)
        #expect(options.bits == 8 && options.symmetric && options.granularity == .channel)
        #expect(options.observer == .minmax && options.scaleFormat == .float32 && options.activations == nil)
        #expect(options.selector.targets == ["Linear"] && options.selector.ignore.isEmpty)
        #expect(recipe.seed == 0 && recipe.calibration == nil && recipe.output.formats == [.safetensors])
    }

    @Test func quantizeGPTQGroup() throws {
        let recipe = try Self.recipe(
            stages: "  - quantize: { method: gptq, bits: 4, group_size: 64, act_order: true, block_size: 32, observer: percentile, scale_format: f16, activations: { observer: mse } }",
            extra: "data: { calibration: { path: c.txt } }")
        guard let options = recipe.stages.first?.pass as? QuantizePass else { Issue.record("not quantize"); return }
        #expect(options.granularity == .group(64))
        #expect(options.gptq == QuantizePass.GPTQSettings(damping: 0.01, blockSize: 32, actOrder: true))
        #expect(options.observer == .percentile(99.9))
        #expect(options.activations == QuantizePass.Activations(bits: 8, observer: .mse))
        #expect(options.scaleFormat == .float16)
        #expect(recipe.calibration == Recipe.Calibration(path: "c.txt", samples: 128))
    }

    @Test func granularityGroupAloneUsesDefaultSize() throws {
        let recipe = try Self.recipe(stages: "  - quantize: { granularity: group }")
        guard let options = recipe.stages.first?.pass as? QuantizePass else { Issue.record("not quantize"); return }
        #expect(options.granularity == .group(QuantizePass.defaultGroupSize))
    }

    @Test func prunePatternImpliesSparsity() throws {
        let recipe = try Self.recipe(stages: #"  - prune: { pattern: "4:8", sparsity: 0.5 }"#)
        guard let options = recipe.stages.first?.pass as? PrunePass else { Issue.record("not prune"); return }
        #expect(options.pattern == .nOfM(n: 4, m: 8) && options.sparsity == 0.5 && options.method == .magnitude)
    }

    @Test(arguments: ["1:4", "2:4", "4:8", "3:16", "1:64"])
    func acceptedPatterns(_ pattern: String) throws {
        _ = try Self.recipe(stages: "  - prune: { pattern: \"\(pattern)\" }")
    }

    @Test(arguments: ["3:2", "2:2", "0:4", "2:x", "2:4:8", "1:128", ":4", "two:four"])
    func refusedPatterns(_ pattern: String) {
        let error = Self.error(stages: "  - prune: { pattern: \"\(pattern)\" }")
        #expect(error?.path == "stages[0].prune.pattern", "\(String(describing: error))")
    }

    @Test func pruneScheduleDecodesWithItsTraining() throws {
        let recipe = try Self.recipe(stages: "  - prune: { schedule: { final: 0.8, end_step: 1000, data: t.txt, steps: 1200 } }")
        guard let options = recipe.stages.first?.pass as? PrunePass else { Issue.record("not prune"); return }
        #expect(options.schedule == PrunePass.Schedule(initial: 0, final: 0.8, startStep: 0, endStep: 1000, updateEvery: 100,
                                                          training: TrainingOptions(data: "t.txt", steps: 1200)))
        #expect(options.sparsity == 0.8)
        #expect(recipe.stages[0].unavailableReason == nil && recipe.stages[0].trains)
        let schedule = options.schedule!
        // Zhu & Gupta: 0 before the start, the cubic ramp, final from end_step on.
        #expect(schedule.sparsity(atStep: 0) == 0 && schedule.sparsity(atStep: 1000) == 0.8 && schedule.sparsity(atStep: 1100) == 0.8)
        #expect(abs(schedule.sparsity(atStep: 500) - 0.8 * (1 - 0.125)) < 1e-12)
        #expect(schedule.updates(atStep: 100) && !schedule.updates(atStep: 150) && schedule.updates(atStep: 1000) && !schedule.updates(atStep: 1100))
        #expect(throws: RecipeError.self) {
            try Self.recipe(stages: "  - prune: { schedule: { final: 0.8, end_step: 1000, data: t.txt, steps: 500 } }")
        }
    }

    @Test func trimVocabularyTakesOneOrManyFiles() throws {
        let one = try Self.recipe(stages: "  - trim_vocabulary: { corpus: a.txt }")
        #expect(one.stages == [RecipeStage(TrimVocabularyPass(corpus: ["a.txt"]))])
        let many = try Self.recipe(stages: "  - trim_vocabulary: { corpus: [a.txt, b.txt], min_count: 2, keep_special: false }")
        #expect(many.stages == [RecipeStage(TrimVocabularyPass(corpus: ["a.txt", "b.txt"], keepSpecial: false, minCount: 2))])
    }

    @Test func trainingPassesDecode() throws {
        let recipe = try Self.recipe(stages: """
          - distill: { layers: [0, 2, 4], data: s.txt, steps: 100, warmup: 10, losses: [{loss: embedding_cosine}, {loss: logit_kl, weight: 0.5, temperature: 2}], teachers: [{path: t1}, {path: t2, weight: 0.5}] }
          - qat: { bits: 4, group_size: 32, lsq: true, data: s.txt, steps: 50 }
        """)
        guard let distill = recipe.stages[0].pass as? DistillPass, let qat = recipe.stages[1].pass as? QATPass else {
            Issue.record("wrong stages"); return
        }
        #expect(distill.layers == [0, 2, 4] && distill.losses.count == 2 && distill.losses[1].temperature == 2)
        #expect(distill.teachers == [.init(path: "t1", weight: 1), .init(path: "t2", weight: 0.5)])
        #expect(distill.training.warmup == 10 && distill.training.batchSize == 32)
        #expect(qat.groupSize == 32 && qat.lsq && qat.training.steps == 50)
        #expect(recipe.stages[0].unavailableReason == nil && recipe.stages[1].unavailableReason == nil)
        try recipe.requireRunnableStages()
        try Self.recipe(stages: "  - quantize: {}").requireRunnableStages()
    }

    @Test func mixedPrecisionBudget() throws {
        let recipe = try Self.recipe(stages: "  - mixed_precision: { candidates: [8, 4], budget: { average_bits: 5 } }",
                                     extra: "data: { calibration: { path: c.txt } }")
        guard let options = recipe.stages.first?.pass as? MixedPrecisionPass else { Issue.record("not mixed"); return }
        #expect(options.candidates == [4, 8] && options.budget == .averageBits(5))
        let error = Self.error(stages: "  - mixed_precision: { candidates: [4, 8], budget: { average_bits: 3 } }",
                               extra: "data: { calibration: { path: c.txt } }")
        #expect(error?.path == "stages[0].mixed_precision.budget.average_bits")
    }

    @Test func unknownKeySuggestsNearestAndListsAllowed() {
        let error = Self.error(stages: "  - quantize: { groupSize: 64 }")
        guard case let .unknownKey(location, key, allowed, suggestion)? = error else {
            Issue.record("expected unknownKey, got \(String(describing: error))"); return
        }
        #expect(location.path == "stages[0].quantize.groupSize" && key == "groupSize")
        #expect(suggestion == "group_size" && allowed.contains("act_order"))
        #expect(location.line == 5)
    }

    @Test func farFetchedNamesGetNoSuggestion() {
        let error = Self.error(stages: "  - compress_everything: {}")
        guard case let .unknownPass(_, _, _, suggestion)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(suggestion == nil)
        #expect(error?.hint == nil)
    }

    @Test func quotedNumbersAreStrings() {
        let error = Self.error(stages: #"  - quantize: { bits: "8" }"#)
        #expect(error?.description.contains("expected an integer, found the string '8'") == true)
    }

    @Test func descriptionIsOneLineWithFileLineColumnAndPath() {
        let error = Self.error(stages: "  - quantize: { bits: 9 }")
        #expect(error?.description == "t.yaml:5:23: stages[0].quantize.bits: expected an integer in 2...8, found 9")
        #expect(error?.allowed == "an integer in 2...8" && error?.found == "9")
    }

    @Test func pruneAfterQuantizeIsRefused() {
        let error = Self.error(stages: "  - quantize: {}\n  - prune: { sparsity: 0.5 }")
        #expect(error?.path == "stages[1]" && error?.description.contains("prune before quantizing") == true)
    }

    @Test func classificationRejectsData() {
        let error = Self.error(stages: "  - quantize: {}", extra: "evaluation: [{ task: classification, test: t.tsv, data: d.tsv }]")
        #expect(error?.path == "evaluation[0].data")
    }

    @Test func emptyDocumentIsAnError() {
        #expect(throws: RecipeError.self) { try Recipe(yaml: "", file: "e.yaml") }
        #expect(throws: RecipeError.self) { try Recipe(yaml: "# only a comment\n", file: "e.yaml") }
    }

    @Test func severalDocumentsAreRefused() {
        #expect(throws: RecipeError.self) { try Recipe(yaml: "name: a\n---\nname: b\n", file: "two.yaml") }
    }

    @Test func nameSuggestion() {
        #expect(NameSuggestion.nearest(to: "quantise", in: PassRegistry.keys) == "quantize")
        #expect(NameSuggestion.nearest(to: "prune-structured", in: PassRegistry.keys) == "prune_structured")
        #expect(NameSuggestion.nearest(to: "xyz", in: ["bits", "method"]) == nil)
        #expect(NameSuggestion.editDistance("kitten", "sitting") == 3)
    }
}
