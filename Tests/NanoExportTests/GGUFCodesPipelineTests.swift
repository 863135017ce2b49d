import Foundation
import Testing
import NanoCheckpoint
@testable import NanoExport
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor
import TestSupport

/// ggml codes through the pipeline: a compressed folder whose layers hold codes is compressed
/// again (int8 on two layers without codes); the pipeline keeps the codes in its output, and the
/// recipe's `output.formats: [gguf]` written from memory equals `nanoforge export --format gguf`
/// of the folder, byte for byte, with every coded layer's bytes as they were.
@Suite struct GGUFCodesPipelineTests {
    @Test func codesSurviveACompressAndExportFromMemoryAndFolder() throws {
        let (model, codes) = try TinyLlamaCodes.make()
        try withTemporaryDirectory { dir in
            try TinyLlamaCodes.writeFolder(dir + "/coded", model: model, codes: codes, tokenizer: try TinyLlamaCodes.tokenizer())
            var text = ""
            while text.utf8.count < 300 { text += "the tiny llama keeps its codes and writes them out " }
            try text.write(toFile: dir + "/text.txt", atomically: true, encoding: .utf8)
            let yaml = """
            name: tiny-llama-codes
            model: { path: \(dir)/coded }
            evaluation:
              - { task: perplexity, data: \(dir)/text.txt, context: 32 }
            stages:
              - quantize: { bits: 8, targets: ["model.layers.1.mlp.gate_proj", "model.layers.1.self_attn.o_proj"] }
            output: { dir: \(dir)/out, formats: [safetensors, gguf] }
            """
            var pipeline = Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml"))
            pipeline.exporter = ModelExporterTests.exporter
            let report = try pipeline.run()

            // The report measured the stage as `nanoforge eval` runs the output folder: the coded
            // layers on the packed runtime (GGMLDecoding), the rest in Float32. Not the dense path.
            let reported = try #require(report.stages.last?.metrics["perplexity"])
            let folder = try PackedModel.load(path: dir + "/out")
            let llama = try #require(folder.model.as(LlamaModel.self))
            let evaluated = EvaluatedModel(.llama(llama), input: .byteLevelBPE(try TinyLlamaCodes.tokenizer()))
            let dense = try #require(try EvaluationTask.perplexity(data: dir + "/text.txt", context: 32).evaluate(evaluated)["perplexity"])
            try GGMLDecoding.install(on: llama, codes: folder.ggmlQuantized, folder: dir + "/out")
            let deployed = try #require(try EvaluationTask.perplexity(data: dir + "/text.txt", context: 32).evaluate(evaluated)["perplexity"])
            print("tiny Llama with ggml codes: report \(reported), packed runtime \(deployed), dense \(dense)")
            #expect(reported == deployed)
            #expect(reported != dense, "the packed arithmetic differs from Float32 (input rounding), so the check tells them apart")

            let out = try PackedModel.load(path: dir + "/out")
            #expect(out.ggmlQuantized == codes)
            #expect(Set(out.quantized.keys) == ["model.layers.1.mlp.gate_proj", "model.layers.1.self_attn.o_proj"])
            try ExportFromMemoryTests.expectSameBytes(out: dir + "/out", dir: dir, formats: [.gguf])

            let file = try GGUFFile.read(path: dir + "/out/model.gguf")
            for info in file.tensors {
                guard let (layer, heads) = GGUFCodesExportTests.layer(ofTensor: info.name) else { continue }
                if let q = codes[layer] {
                    #expect(info.type == q.type, "\(info.name)")
                    #expect(file.rawData(info) == (heads.map { GGUFCodesExportTests.interleavedBytes(q, heads: $0) } ?? q.blocks), "\(info.name)")
                } else {
                    // The int8 layers have no ggml codes: the default type, from their dequantized weights.
                    #expect(info.type == GGUFExporter.defaultType, "\(info.name)")
                }
            }
        }
    }
}
