import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
@testable import NanoQuant
import NanoModels
import NanoTensor
import TestSupport

/// `prune_structured` on the tiny Llama fixture through a recipe: depth by block influence and
/// width by activation importance in one stage; the output folder and its GGUF export load with
/// the new depth and widths; the recipe's errors name their fields.
@Suite(.serialized) struct DecoderStructuredPrunePipelineTests {
    static func recipe(_ dir: String, stage: String, formats: String = "[safetensors]") -> String {
        """
        name: tiny-llama-pruned
        model: { path: \(dir)/llama }
        data: { calibration: { path: \(dir)/text.txt } }
        evaluation:
          - { task: perplexity, data: \(dir)/text.txt, context: 32 }
        stages:
          - prune_structured: \(stage)
        output: { dir: \(dir)/pruned, formats: \(formats) }
        """
    }

    @Test func depthAndWidthThroughCompressAndGGUF() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            try LlamaPipelineTests.makeFolder(dir)
            try Self.recipe(dir, stage: "{ drop_blocks: 1, ffn_ratio: 0.25, head_ratio: 0.5, hidden_ratio: 0.25, method: activation }", formats: "[gguf]")
                .write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
            let compress = try CommandRunner.nanoforge(["compress", dir + "/recipe.yaml"])
            try #require(compress.status == 0, "\(compress.stderr)")
            let pruned = try #require(try PackedModel.load(path: dir + "/pruned").model.as(LlamaModel.self))
            // The fixture: 2 blocks, width 64, 4 heads of 16 in 2 groups, SwiGLU 128.
            let c = pruned.configuration
            #expect(c.layers == 1 && c.feedForwardWidth == 96 && c.heads == 2 && c.kvHeads == 2 && c.headDimension == 16 && c.width == 48)
            #expect(pruned.blocks[0].attention.output.weight.shape == [48, 32] && pruned.blocks[0].feedForward.down.weight.shape == [48, 96])
            #expect(pruned.tokenEmbedding.weight.shape == [256, 48] && pruned.blocks[0].attention.query.weight.shape == [32, 48])
            let gguf = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/pruned").first { $0.hasSuffix(".gguf") })
            let fromGGUF = try ModelLoader.load(path: dir + "/pruned/" + gguf, as: LlamaModel.self)
            #expect(fromGGUF.configuration.layers == 1 && fromGGUF.configuration.heads == 2 && fromGGUF.configuration.feedForwardWidth == 96
                    && fromGGUF.configuration.width == 48 && fromGGUF.configuration.headDimension == 16)
            let tokens = Array("the tiny llama".utf8).map(Int.init)
            // The export writes the matrices as Q8_0: the same function up to that rounding.
            let relative = PassContext.relativeError(pruned.logits(tokens), fromGGUF.logits(tokens))
            #expect(relative < 0.06, "‖Δ‖/‖logits‖ = \(relative)")   // measured 0.027 (trim), below 0.02 (prune)
            let r = try CommandRunner.nanoforge(["eval", dir + "/pruned", "--json", "--task", "perplexity", "--data", dir + "/text.txt", "--context", "32"])
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    /// Run-time refusals name the stage's field.
    @Test(arguments: [
        ("{ ffn_ratio: 0.5, scope: global }", "stages[0].prune_structured.scope"),
        ("{ drop_block_indices: [5] }", "stages[0].prune_structured.drop_block_indices"),
        ("{ drop_blocks: 2 }", "stages[0].prune_structured.drop_blocks"),
        ("{ ffn_ratio: 0.5, ignore: [\"model.layers.0.*\"] }", "stages[0].prune_structured.ffn_ratio"),
        ("{ hidden_ratio: 0.5, ignore: [\"lm_head\"] }", "stages[0].prune_structured.hidden_ratio"),
    ])
    func refusalsNameTheField(stage: String, field: String) throws {
        try withTemporaryDirectory { dir in
            try LlamaPipelineTests.makeFolder(dir)
            let recipe = try Recipe(yaml: Self.recipe(dir, stage: stage), file: "r.yaml")
            do {
                _ = try Pipeline(recipe: recipe).run()
                Issue.record("\(stage) ran")
            } catch {
                #expect("\(error)".contains(field), "\(error)")
            }
        }
    }

    /// Decoding errors name the field and what is allowed.
    @Test(arguments: [
        ("{ drop_blocks: -1 }", "drop_blocks"),
        ("{ drop_blocks: 2, drop_block_indices: [1] }", "drop_blocks and drop_block_indices"),
        ("{ drop_block_indices: [1, 1] }", "distinct"),
        ("{ head_ratio: 0.5, head_unit: heads }", "head_unit"),
        ("{ head_ratio: 0 }", "nothing would be removed"),
    ])
    func recipeErrorsNameTheField(stage: String, expected: String) throws {
        do {
            _ = try Recipe(yaml: Self.recipe("/tmp/x", stage: stage), file: "r.yaml")
            Issue.record("\(stage) decoded")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func decodedOptionsRoundTrip() throws {
        let recipe = try Recipe(yaml: Self.recipe("/tmp/x", stage: "{ drop_block_indices: [4, 2], head_ratio: 0.3, head_unit: group }"), file: "r.yaml")
        let pass = try #require(recipe.stages.first?.pass as? StructuredPrunePass)
        #expect(pass.configuration.dropBlockIndices == [2, 4] && pass.configuration.headUnit == .group && pass.configuration.dropBlocks == 0)
        #expect(!pass.needsCalibration)
        let again = try StructuredPrunePass.decode(RecipeDocument.parse(try RecipeEncoding.yaml(pass.encode()), file: "roundtrip.yaml"))
        #expect(again.configuration == pass.configuration)
    }
}
