import Testing
import NanoModels
import NanoTensor
@testable import NanoForge

/// A recipe reports every error at once, in file order; `--output` stands for `output.dir`.
struct RecipeErrorCollectionTests {
    @Test func misspeltPassAndMissingOutputAreBothReported() throws {
        let yaml = """
        name: t
        model: { path: m }
        stages:
          - quantise: { bits: 8 }
        """
        do {
            _ = try Recipe(yaml: yaml, file: "t.yaml")
            Issue.record("decoded")
        } catch let error as RecipeErrors {
            #expect(error.errors.count == 2)
            guard case let .unknownPass(location, name, _, suggestion) = error.errors[0] else { Issue.record("\(error)"); return }
            #expect(name == "quantise" && suggestion == "quantize" && location.line == 4)
            guard case let .missingKey(_, key, _) = error.errors[1] else { Issue.record("\(error)"); return }
            #expect(key == "output")
            #expect(error.description.split(separator: "\n").count == 2)
        }
    }

    @Test func everyBadPartIsListedInFileOrder() throws {
        let yaml = """
        name: t
        mode: { path: m }
        stages:
          - prune: { sparsity: 2 }
          - quantize: { bits: 99 }
        seed: -1
        output: { dir: out }
        """
        do {
            _ = try Recipe(yaml: yaml, file: "t.yaml")
            Issue.record("decoded")
        } catch let error as RecipeErrors {
            let lines = error.errors.compactMap { $0.location.line }
            #expect(lines == lines.sorted())
            // `mode` meant `model`: the missing `model` is the same mistake, reported once.
            #expect(error.errors.map(\.path) == ["mode", "stages[0].prune.sparsity", "stages[1].quantize.bits", "seed"])
        }
    }

    @Test func oneErrorIsThrownAsItIs() {
        #expect(throws: RecipeError.self) {
            try Recipe(yaml: "name: t\nmodel: { path: m }\nstages: [{quantize: {bits: 99}}]\noutput: { dir: out }", file: "t.yaml")
        }
    }

    @Test func outputDirectoryStandsForOutputDir() throws {
        let yaml = "name: t\nmodel: { path: m }\nstages: [{quantize: {bits: 8}}]\n"
        #expect(throws: RecipeError.self) { try Recipe(yaml: yaml, file: "t.yaml") }
        let recipe = try Recipe(yaml: yaml, file: "t.yaml", outputDirectory: "out/cli")
        #expect(recipe.output.directory == "out/cli")
        let both = try Recipe(yaml: yaml + "output: { dir: out/recipe, formats: [onnx] }\n", file: "t.yaml", outputDirectory: "out/cli")
        #expect(both.output.directory == "out/cli" && both.output.formats == [.onnx])
    }
}

/// Every pass's layers come from one walk of the module tree, filtered by `targets` / `ignore`.
struct LayerSelectionWalkTests {
    @Test func selectionFollowsTheWalkAndHonoursIgnore() throws {
        var rng = RandomGenerator(seed: 1)
        let bert = BertEncoder(.init(vocabularySize: 20, width: 8, layers: 2, heads: 2, intermediateWidth: 16), pooler: true, rng: &rng)
        let all = try LayerSelector(targets: ["Linear"]).layers(Linear.self, in: bert)
        #expect(all.map(\.name) == bert.layers(of: Linear.self).map(\.name))
        let some = try LayerSelector(targets: ["Linear"], ignore: ["pooler.dense", "encoder.layer.1.*"]).layers(Linear.self, in: bert)
        #expect(some.map(\.name) == ["encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.key",
                                     "encoder.layer.0.attention.self.value", "encoder.layer.0.attention.output.dense",
                                     "encoder.layer.0.intermediate.dense", "encoder.layer.0.output.dense"])
        #expect(some.allSatisfy { bert.module(at: $0.name) === $0.layer })
        // A kind selects only modules of that type; a glob selects any kind it names.
        #expect(try LayerSelector(targets: ["Embedding"]).layers(Linear.self, in: bert).isEmpty)
        #expect(try LayerSelector(targets: ["Embedding"]).layers(Embedding.self, in: bert).count == 3)
        #expect(try LayerSelector(targets: ["*LayerNorm"]).layers(LayerNorm.self, in: bert).count == 1 + 2 * 2)
    }
}
