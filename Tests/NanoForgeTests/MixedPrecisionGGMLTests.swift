import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoQuant
import NanoTensor
import TestSupport

/// `mixed_precision` with `ggml_types` on a tiny random Llama (the tiny-llama fixture with its MLP
/// widened to 256, so that the down projection's rows are whole K-quant blocks of 256 while every
/// other matrix, 64 wide, drops the K types): the budget is met to the byte and never exceeded,
/// the codes are ggml's round to nearest and the weights their dequantized values, the lower-KL
/// option wins between two that fit, and bad budgets and type names fail naming the field.
@Suite(.serialized) struct MixedPrecisionGGMLTests {
    static let types = "[q8_0, q5_0, q4_0, iq4_nl, q4_k, q2_k]"

    /// `dir/llama`: the fixture's configuration with intermediate_size 256 and its weights, the MLP
    /// ones replaced by random ones of the new shapes; `dir/calibration.txt`: text for the probe.
    static func makeFolder(_ dir: String) throws {
        try LlamaPipelineTests.makeFolder(dir)
        let folder = dir + "/llama"
        let config = try String(contentsOfFile: folder + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"intermediate_size\": 128", with: "\"intermediate_size\": 256")
            .write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let store = try SafetensorsReader.read(path: folder + "/model.safetensors")
        var widened = TensorStore(metadata: store.metadata)
        var rng = RandomGenerator(seed: 11)
        for t in store.tensors {
            let shape: [Int]
            if t.name.hasSuffix("gate_proj.weight") || t.name.hasSuffix("up_proj.weight") { shape = [256, 64] }
            else if t.name.hasSuffix("down_proj.weight") { shape = [64, 256] }
            else { widened.insert(t); continue }
            let values = rng.normal(shape: shape, mean: 0, std: 0.05).scalars
            widened.insert(StoredTensor(name: t.name, dtype: .f32, shape: shape, data: values.withUnsafeBufferPointer { Data(buffer: $0) }))
        }
        try SafetensorsWriter.write(widened, to: folder + "/model.safetensors")
        let text = try String(contentsOfFile: dir + "/text.txt", encoding: .utf8)
        try String(repeating: text, count: 2).write(toFile: dir + "/calibration.txt", atomically: true, encoding: .utf8)
    }

    static func recipe(_ dir: String, _ stage: String, evaluation: String = "") throws -> Recipe {
        try Recipe(yaml: """
            name: tiny-llama-mixed
            model: { path: \(dir)/llama }
            seed: 1
            data:
              calibration: { path: \(dir)/calibration.txt }
            \(evaluation)
            stages:
              - mixed_precision: \(stage)
            output: { dir: \(dir)/out }
            """, file: "mixed.yaml")
    }

    /// The stage run on a freshly loaded model; the state after it.
    static func run(_ dir: String, _ stage: String) throws -> CompressionState {
        let recipe = try recipe(dir, stage)
        let state = CompressionState(model: try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model)
        let calibration = try EvaluationData.inputs(dir + "/calibration.txt")
        let step = try #require(recipe.stages.first)
        _ = try step.pass.run(on: state, context: PassContext(recipe: recipe, index: 0, key: step.key, calibration: calibration, log: { _ in }))
        return state
    }

    static func stage(types: String = types, budget: String) -> String {
        "{ ggml_types: \(types), budget: { \(budget) }, targets: [Linear, Embedding] }"
    }

    /// A size_mb budget of exactly `bytes` (+ 0.5 byte: the MB never rounds below the byte count).
    static func sizeBudget(_ bytes: Int) -> String { "size_mb: \((Double(bytes) + 0.5) / 1e6)" }

    @Test func theAllocationMeetsTheBudgetToTheByteAndNeverExceedsIt() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            // Everything fits: every layer's largest type.
            let roomy = try Self.run(dir, Self.stage(budget: "size_mb: 100"))
            let mp = try #require(roomy.mixedPrecision)
            #expect(mp.loss == "kl_mean" && mp.sensitivities.count == 16)   // 2 × 7 Linear, lm_head, the embedding table
            // Each layer holds its chosen type's codes, ggml's round to nearest of its weight, and
            // the model evaluates their dequantized values.
            let reference = try EvaluatedModel.load(path: dir + "/llama", recipe: "mixed.yaml").model
            let originals = Dictionary(uniqueKeysWithValues: (reference.linearLayers.map { ($0.name, $0.layer.weight.value) }
                                                             + reference.embeddingLayers.map { ($0.name, $0.layer.weight.value) }))
            let weights = Dictionary(uniqueKeysWithValues: (roomy.model.linearLayers.map { ($0.name, $0.layer.weight.value) }
                                                           + roomy.model.embeddingLayers.map { ($0.name, $0.layer.weight.value) }))
            #expect(roomy.ggmlQuantized.count == 16 && roomy.quantized.isEmpty)
            for (name, q) in roomy.ggmlQuantized {
                let type = try #require(mp.typeChoice?[name])
                #expect(GGMLCandidateTypes.recipeName(q.type) == type)
                #expect(q == (try GGMLQuantizedTensor.roundToNearest(try #require(originals[name]), as: q.type)), "\(name)")
                #expect(weights[name] == q.dequantized(), "\(name)")
            }
            // K types are dropped for the 64-wide matrices, and the 256-wide down projections keep them.
            for s in mp.sensitivities {
                let types = try #require(s.types)
                if s.layer.hasSuffix("down_proj") {
                    #expect(s.dropped == nil && types.contains("q2_k") && types.contains("q4_k"), "\(s.layer)")
                } else {
                    #expect(s.dropped == ["q4_k", "q2_k"] && !types.contains("q2_k"), "\(s.layer)")
                }
                #expect(s.measured?.contains(true) == true && s.loss.allSatisfy { $0 >= 0 })
            }
            #expect(mp.sensitivities.contains { $0.loss.contains { $0 > 0 } })

            // Budgets from the cheapest frontier point to the dearest: the model's stored bytes
            // never exceed the budget, equal the chosen point's, and the choice is the least
            // predicted KL any allocation within the budget reaches (BitAllocation is exact).
            let options = mp.sensitivities.map { s in zip(s.bytes, s.loss).map { BitAllocation.Option(bits: 0, cost: $0, loss: $1) } }
            let frontier = BitAllocation.frontier(options)
            let unselected = try #require(mp.chosen.modelBytes) - mp.chosen.bytes
            #expect(roomy.sizeBytes == mp.chosen.modelBytes && mp.chosen.bytes == frontier.last!.cost)
            let picks = Set([0, frontier.count / 3, 2 * frontier.count / 3, frontier.count - 1])
            for index in picks.sorted() {
                let exact = frontier[index].cost + unselected
                for budget in [exact, exact - 1] {
                    guard budget >= frontier[0].cost + unselected else {
                        #expect(throws: PipelineError.self) { try Self.run(dir, Self.stage(budget: Self.sizeBudget(budget))) }
                        continue
                    }
                    let state = try Self.run(dir, Self.stage(budget: Self.sizeBudget(budget)))
                    let chosen = try #require(state.mixedPrecision?.chosen)
                    #expect(state.sizeBytes <= budget, "budget \(budget)")
                    #expect(chosen.modelBytes == state.sizeBytes)
                    let best = try #require(frontier.last { $0.cost + unselected <= budget })
                    #expect(chosen.bytes == best.cost && abs(chosen.predictedLoss - best.loss) < 1e-12, "budget \(budget)")
                    if budget == exact { #expect(state.sizeBytes == budget, "a budget equal to a frontier point's size is met to the byte") }
                }
            }
        }
    }

    /// q4_0 and iq4_nl take the same bytes: with a budget of every layer at 4.5 bits, each layer
    /// gets whichever of the two has the lower KL; and with room for all of q8_0, q8_0 everywhere,
    /// measured lower than all of the 4.5-bit choice.
    @Test func theLowerKLOptionWinsWhenTwoFit() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            let both = try Self.run(dir, Self.stage(types: "[q4_0, iq4_nl]", budget: "size_mb: 100"))
            let mp = try #require(both.mixedPrecision)
            for s in mp.sensitivities {
                let chosen = try #require(mp.typeChoice?[s.layer])
                let i = try #require(s.types?.firstIndex(of: chosen))
                #expect(s.bytes[0] == s.bytes[1] && s.loss[i] == s.loss.min()!, "\(s.layer): \(s.types!) \(s.loss) chose \(chosen)")
            }
            let widest = try Self.run(dir, Self.stage(types: "[q4_0, q8_0]", budget: "size_mb: 100"))
            let wide = try #require(widest.mixedPrecision)
            #expect(wide.typeChoice?.values.allSatisfy { $0 == "q8_0" } == true)
            #expect(try #require(wide.chosen.measuredLoss) < (try #require(mp.chosen.measuredLoss)))
        }
    }

    @Test func anInfeasibleBudgetNamesTheBudgetField() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            for budget in ["size_mb: 0.01", "bits_per_weight: 1"] {
                do {
                    _ = try Self.run(dir, Self.stage(budget: budget))
                    Issue.record("\(budget): no error")
                } catch let error as PipelineError {
                    guard case let .stageFailed(_, stage, reason) = error else { Issue.record("\(error)"); continue }
                    #expect(stage == "stages[0].mixed_precision.budget" && reason.contains("cannot be met"), "\(error)")
                }
            }
        }
    }

    @Test func bitsPerWeightCountsTheWholeModel() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            let state = try Self.run(dir, Self.stage(budget: "bits_per_weight: 6"))
            #expect(8 * Double(state.sizeBytes) / Double(state.parameterCount) <= 6)
            #expect(8 * Double(state.sizeBytes) / Double(state.parameterCount) > 5)
        }
    }

    @Test func aTypeNoRowTilesNamesTheLayerAndTheField() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            #expect {
                _ = try Self.run(dir, Self.stage(types: "[q4_k]", budget: "size_mb: 100"))
            } throws: { error in
                guard case let .stageFailed(_, stage, reason)? = error as? PipelineError else { return false }
                return stage == "stages[0].mixed_precision.ggml_types" && reason.contains("blocks of 256")
            }
        }
    }

    /// `importance: calibration`: every chosen layer holds the importance-weighted rounding of its
    /// weight by the calibration text's matrix (embeddings unweighted), and the model its values.
    @Test func importanceWeightsEveryCandidate() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            let state = try Self.run(dir, "{ ggml_types: [q5_0, q4_0], importance: calibration, budget: { size_mb: 100 }, targets: [Linear, Embedding] }")
            let recipe = try Self.recipe(dir, Self.stage(budget: "size_mb: 100"))
            let reference = try EvaluatedModel.load(path: dir + "/llama", recipe: "mixed.yaml").model
            let context = PassContext(recipe: recipe, index: 0, key: "mixed_precision",
                                      calibration: try EvaluationData.inputs(dir + "/calibration.txt"), log: { _ in })
            let linears = reference.linearLayers.map { ($0.name, $0.layer.weight.value) }
            let matrix = try context.importanceMatrix(for: linears.map(\.0), in: CompressionState(model: reference))
            var weighted = 0
            for (name, w) in linears + reference.embeddingLayers.map({ ($0.name, $0.layer.weight.value) }) {
                let q = try #require(state.ggmlQuantized[name], "\(name)")
                let importance = matrix.importance(for: name)
                #expect(q == (try GGMLQuantizedTensor.roundToNearest(w, as: q.type, importance: importance)), "\(name)")
                #expect((importance == nil) == name.contains("embed"), "\(name)")
                if q != (try GGMLQuantizedTensor.roundToNearest(w, as: q.type)) { weighted += 1 }
            }
            #expect(weighted == linears.count, "weighted rounding changed \(weighted) of \(linears.count) matrices")
        }
    }

    @Test func unknownTypesAndMisusedFieldsAreRecipeErrors() throws {
        func error(_ stage: String) -> RecipeError? {
            do { _ = try RecipeDecodingTests.recipe(stages: "  - mixed_precision: " + stage, extra: "data: { calibration: { path: c.txt } }"); return nil }
            catch { return error as? RecipeError }
        }
        let unknown = try #require(error("{ ggml_types: [q4_0, q3_x], budget: { size_mb: 80 } }"))
        guard case let .invalidChoice(location, allowed, found, _) = unknown else { Issue.record("\(unknown)"); return }
        #expect(location.path == "stages[0].mixed_precision.ggml_types[1]" && found == "q3_x")
        #expect(allowed == GGMLCandidateTypes.allowedNames && allowed.contains("q4_k") && allowed.contains("iq4_nl"))
        #expect("\(unknown)".contains("q8_0"))
        #expect(error("{ ggml_types: [q4_0, q4_0], budget: { size_mb: 80 } }")?.path == "stages[0].mixed_precision.ggml_types")
        #expect(error("{ ggml_types: [q4_0], candidates: [4], budget: { size_mb: 80 } }")?.path == "stages[0].mixed_precision.candidates")
        #expect(error("{ ggml_types: [q4_0], budget: { average_bits: 4 } }")?.path == "stages[0].mixed_precision.budget.average_bits")
        #expect(error("{ ggml_types: [q4_0], budget: { size_mb: 80, bits_per_weight: 4 } }")?.path == "stages[0].mixed_precision.budget")
        #expect(error("{ candidates: [4, 8], importance: calibration, budget: { size_mb: 80 } }")?.path == "stages[0].mixed_precision.importance")
        #expect(error("{ ggml_types: [q4_0], importance: yes, budget: { size_mb: 80 } }")?.path == "stages[0].mixed_precision.importance")

        let recipe = try RecipeDecodingTests.recipe(stages: "  - mixed_precision: { ggml_types: [Q8_0, q4_k], budget: { bits_per_weight: 5 } }",
                                                    extra: "data: { calibration: { path: c.txt } }")
        let pass = try #require(recipe.stages.first?.pass as? MixedPrecisionPass)
        #expect(pass.ggmlTypes == [.q8_0, .q4_K] && pass.budget == .bitsPerWeight(5))
    }

    /// The report: the frontier chart and the choice, the tables of applied points, prediction
    /// checks and chosen types, in report.md and report.html.
    @Test func theReportShowsTheFrontierAndTheChoice() throws {
        try withTemporaryDirectory { dir in
            try Self.makeFolder(dir)
            let recipe = try Self.recipe(dir, Self.stage(budget: "bits_per_weight: 7"),
                                         evaluation: "evaluation:\n  - { task: kl_divergence, data: \(dir)/text.txt, context: 32 }")
            let report = try Pipeline(recipe: recipe).run()
            let mp = try #require(report.mixedPrecision)
            #expect(report.stages[1].sizeBytes == mp.chosen.modelBytes)
            #expect((mp.predictionChecks ?? []).count > 0 && mp.frontier.count >= 2)
            let markdown = try String(contentsOfFile: dir + "/out/report.md", encoding: .utf8)
            #expect(markdown.contains("## Mixed precision") && markdown.contains("Chosen types:") && markdown.contains("kl_mean"))
            let html = try String(contentsOfFile: dir + "/out/report.html", encoding: .utf8)
            #expect(html.contains("Pareto frontier") && html.contains("Chosen types"))
        }
    }
}
