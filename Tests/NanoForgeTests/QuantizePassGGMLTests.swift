import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// `quantize` with `ggml_type`: the recipe fields, their errors, and the pass on a tiny BERT
/// whose rows are partly not whole K-quant super-blocks (the fallback).
@Suite struct QuantizePassGGMLTests {
    static func pass(_ section: String) throws -> QuantizePass {
        let recipe = try RecipeDecodingTests.recipe(stages: "  - quantize: \(section)", extra: "data: { calibration: { path: c.txt } }")
        return try #require(recipe.stages.first?.pass as? QuantizePass)
    }

    @Test(arguments: [("Q4_0", GGUFTensorType.q4_0), ("q4_k", .q4_K), ("Iq4_Nl", .iq4_nl), ("q8_0", .q8_0), ("Q6_K", .q6_K)])
    func typeNamesAreReadInAnyCase(_ name: String, _ type: GGUFTensorType) throws {
        let rtn = try Self.pass("{ ggml_type: \(name) }")
        #expect(rtn.ggmlType == type && rtn.method == .rtn && rtn.fallbackType == nil)
        let gptq = try Self.pass("{ method: gptq, ggml_type: \(name), fallback_type: Q8_0, act_order: true }")
        #expect(gptq.ggmlType == type && gptq.fallbackType == .q8_0 && gptq.gptq?.actOrder == true)
        // The recipe written back reads as the same pass.
        let text = try RecipeEncoding.yaml(gptq.encode())
        #expect(text.contains("ggml_type: \"\(type.name.lowercased())\""), "\(text)")
        #expect(try QuantizePass.decode(RecipeDocument.parse(text, file: "again.yaml")) == gptq)
    }

    @Test(arguments: ["bits: 4", "symmetric: false", "granularity: group", "group_size: 32", "scale_format: f16",
                      "observer: mse", "activations: { mode: dynamic }"])
    func integerGridFieldsConflictWithGGMLType(_ field: String) throws {
        let key = String(field.prefix { $0 != ":" })
        let error = try #require(RecipeDecodingTests.error(stages: "  - quantize: { ggml_type: q4_0, \(field) }"))
        guard case .conflict(let location, let problem, _) = error else { Issue.record("\(field): \(error)"); return }
        #expect(location.path == "stages[0].quantize.\(key)" && problem.contains("'\(key)'"), "\(error)")
    }

    @Test func unknownTypeNamesTheFieldAndListsTheTypes() throws {
        let error = try #require(RecipeDecodingTests.error(stages: "  - quantize: { ggml_type: q4_2 }"))
        guard case .invalidChoice(let location, let allowed, let found, _) = error else { Issue.record("\(error)"); return }
        #expect(location.path == "stages[0].quantize.ggml_type" && found == "q4_2")
        #expect(allowed == ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"].filter(allowed.contains)
                && allowed.count == 11)
        #expect(error.description.contains("q4_k") && error.description.contains("ggml_type"))
        // A type nanoforge reads but cannot encode is refused the same way.
        #expect(RecipeDecodingTests.error(stages: "  - quantize: { ggml_type: f16 }") != nil)
    }

    @Test func fallbackTypeNeedsGGMLTypeAndA32BlockType() throws {
        let alone = try #require(RecipeDecodingTests.error(stages: "  - quantize: { fallback_type: q8_0 }"))
        #expect(alone.path == "stages[0].quantize.fallback_type")
        let kQuant = try #require(RecipeDecodingTests.error(stages: "  - quantize: { ggml_type: q4_k, fallback_type: q5_k }"))
        guard case .invalidChoice(let location, let allowed, _, _) = kQuant else { Issue.record("\(kQuant)"); return }
        #expect(location.path == "stages[0].quantize.fallback_type" && allowed == ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"])
    }

    @Test func llamaCppsFallbacks() {
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q4_K) == .q5_0)
        #expect(GGMLTypeFallback.type(forColumns: 1536, preferred: .q4_K) == .q4_K)
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q2_K) == .q4_0)
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q3_K) == .q4_0)
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q5_K) == .q5_1)
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q6_K) == .q8_0)
        #expect(GGMLTypeFallback.type(forColumns: 576, preferred: .q6_K, fallback: .iq4_nl) == .iq4_nl)
        #expect(GGMLTypeFallback.type(forColumns: 100, preferred: .q4_K) == nil)
        #expect(GGMLTypeFallback.type(forColumns: 100, preferred: .q4_0) == nil)
    }

    /// A tiny BERT (width 32, intermediate 256): only `output.dense` (rows of 256) can hold
    /// Q4_K; every other Linear falls back. The model's weights are the blocks' decoded values,
    /// every fallback is recorded, and the report's layer table and note show them.
    @Test(arguments: [(nil, GGUFTensorType.q5_0), ("q8_0", .q8_0)])
    func gptqIntoAKQuantFallsBackWhereRowsAreNotWholeSuperBlocks(_ fallbackName: String?, _ fallback: GGUFTensorType) throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir, intermediateWidth: 256)
            let section = "{ method: gptq, ggml_type: Q4_K\(fallbackName.map { ", fallback_type: \($0)" } ?? ""), targets: [\"encoder.layer.*\"] }"
            let yaml = PipelineTests.recipe(dir, stages: "  - quantize: \(section)")
            let recipe = try Recipe(yaml: yaml, file: "tiny.yaml")
            let model = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
            let state = CompressionState(model: model)
            var log: [String] = []
            let context = PassContext(recipe: recipe, index: 0, key: "quantize",
                                      calibration: try EvaluationData.inputs(dir + "/sentences.txt", limit: 8), log: { log.append($0) })
            let summary = try #require(recipe.stages.first).pass.run(on: state, context: context)
            let linears = state.linearLayers.filter { $0.name.hasPrefix("encoder.layer.") }
            #expect(linears.count == 12 && state.ggmlQuantized.count == 12 && state.quantized.isEmpty)
            for (name, layer) in linears {
                let q = try #require(state.ggmlQuantized[name])
                let expected: GGUFTensorType = name.hasSuffix(".output.dense") && !name.contains("attention") ? .q4_K : fallback
                #expect(q.type == expected, "\(name)")
                #expect(state.ggmlFallbacks[name] == (expected == .q4_K ? nil : .q4_K), "\(name)")
                #expect(layer.weight.value.scalars.map(\.bitPattern) == q.dequantized().scalars.map(\.bitPattern), "\(name)")
            }
            #expect(summary.contains("10 fell back to \(fallback.name))"), "\(summary)")
            #expect(log.filter { $0.contains("instead") }.count == 10)
            let pipeline = Pipeline(recipe: recipe)
            let reports = pipeline.layerReports(state, outputErrors: [:])
            let attention = try #require(reports.first { $0.name == "encoder.layer.0.attention.self.query" })
            #expect(attention.ggmlType == fallback.name && attention.ggmlFallbackFrom == "Q4_K")
            let down = try #require(reports.first { $0.name == "encoder.layer.0.output.dense" })
            #expect(down.ggmlType == "Q4_K" && down.ggmlFallbackFrom == nil)
            let markdown = MarkdownReport.render(CompressionReport(recipe: "tiny", model: "m", stages: [], layers: reports))
            #expect(markdown.contains("| \(fallback.name) (for Q4_K) |") && markdown.contains("| Q4_K |"))
            #expect(markdown.contains("Q4_K → \(fallback.name): 10 layers"))
        }
    }

    /// RTN with a ggml type is ggml's own round to nearest, byte for byte, on every selected layer.
    @Test func rtnIsGGMLsRoundToNearest() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let recipe = try Recipe(yaml: PipelineTests.recipe(dir, stages: "  - quantize: { ggml_type: q4_1, targets: [Linear, Embedding] }"),
                                    file: "tiny.yaml")
            let model = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
            let state = CompressionState(model: model)
            let originals = Dictionary(uniqueKeysWithValues: state.linearLayers.map { ($0.name, $0.layer.weight.value) })
            let context = PassContext(recipe: recipe, index: 0, key: "quantize", calibration: [], log: { _ in })
            _ = try #require(recipe.stages.first).pass.run(on: state, context: context)
            #expect(state.ggmlQuantized.count == originals.count + state.model.embeddingLayers.count)
            for (name, w) in originals {
                let q = try #require(state.ggmlQuantized[name])
                #expect(q == (try GGMLQuantizedTensor.roundToNearest(w, as: .q4_1)), "\(name)")
            }
        }
    }

    /// `importance: calibration` is round to nearest weighted by each input column's Σx² over the
    /// calibration inputs: the bytes of the weighted encoder given the context's own importance
    /// matrix, different from unweighted rounding; embedding tables stay unweighted.
    @Test func importanceFromCalibrationWeightsRoundToNearest() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let yaml = PipelineTests.recipe(dir, stages: "  - quantize: { ggml_type: q4_0, importance: calibration, targets: [Linear, Embedding] }")
            let recipe = try Recipe(yaml: yaml, file: "tiny.yaml")
            let pass = try #require(recipe.stages.first).pass
            #expect(pass.needsCalibration)
            let model = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
            let state = CompressionState(model: model)
            let originals = Dictionary(uniqueKeysWithValues: state.linearLayers.map { ($0.name, $0.layer.weight.value) })
            let embeddings = Dictionary(uniqueKeysWithValues: state.model.embeddingLayers.map { ($0.name, $0.layer.weight.value) })
            let context = PassContext(recipe: recipe, index: 0, key: "quantize",
                                      calibration: try EvaluationData.inputs(dir + "/sentences.txt", limit: 8), log: { _ in })
            let matrix = try context.importanceMatrix(for: Array(originals.keys), in: CompressionState(model: model))
            let summary = try pass.run(on: state, context: context)
            #expect(summary.contains("importance matrix"), "\(summary)")
            var changed = 0
            for (name, w) in originals {
                let weights = try #require(matrix.importance(for: name), "\(name)")
                let q = try #require(state.ggmlQuantized[name])
                #expect(q == (try GGMLQuantizedTensor.roundToNearest(w, as: .q4_0, importance: weights)), "\(name)")
                if q != (try GGMLQuantizedTensor.roundToNearest(w, as: .q4_0)) { changed += 1 }
            }
            #expect(changed == originals.count, "weighted rounding changed \(changed) of \(originals.count) layers")
            for (name, w) in embeddings {
                #expect(state.ggmlQuantized[name] == (try GGMLQuantizedTensor.roundToNearest(w, as: .q4_0)), "\(name)")
            }
        }
    }

    @Test func importanceNeedsGGMLType() throws {
        let alone = try #require(RecipeDecodingTests.error(stages: "  - quantize: { importance: calibration }"))
        #expect(alone.path == "stages[0].quantize.importance")
        let gptq = try RecipeDecodingTests.recipe(stages: "  - quantize: { method: gptq, ggml_type: q4_0, importance: calibration }",
                                                  extra: "data: { calibration: { path: c.txt } }")
        #expect((gptq.stages[0].pass as? QuantizePass)?.importance == .calibration)
        let unknown = try #require(RecipeDecodingTests.error(stages: "  - quantize: { ggml_type: q4_0, importance: activations }"))
        #expect(unknown.path == "stages[0].quantize.importance")
    }

    /// A row that is not whole 32s fits no ggml type: an error naming the layer, before any work.
    @Test func aWidthNoTypeFitsIsAnErrorNamingTheLayer() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir, intermediateWidth: 48)
            let recipe = try Recipe(yaml: PipelineTests.recipe(dir, stages: "  - quantize: { ggml_type: q4_0 }"), file: "tiny.yaml")
            let model = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
            let context = PassContext(recipe: recipe, index: 0, key: "quantize", calibration: [], log: { _ in })
            do {
                _ = try #require(recipe.stages.first).pass.run(on: CompressionState(model: model), context: context)
                Issue.record("no error")
            } catch {
                #expect("\(error)".contains("encoder.layer.0.output.dense") && "\(error)".contains("48"), "\(error)")
            }
        }
    }
}
