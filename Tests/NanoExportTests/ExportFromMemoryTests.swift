import Foundation
import Testing
import NanoCheckpoint
@testable import NanoExport
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// A recipe's `output.formats` are exported from the compressed model the pipeline hands over in
/// memory; `nanoforge export FOLDER` reads the folder that run wrote. Both must give the same
/// bytes, format by format.
@Suite struct ExportFromMemoryTests {
    /// Every file of `formats` in the output folder (written from memory) equals the same format
    /// exported from the folder afterwards.
    static func expectSameBytes(out: String, dir: String, formats: [ModelExporter.Format], calibration: [[Float]]? = nil) throws {
        for format in formats {
            let again = dir + "/from-folder-" + format.fileName
            try ModelExporter.export(path: out, format: format, to: again, calibration: calibration)
            let files = format == .c ? ["model.h", "model.c"] : [""]
            for file in files {
                let memory = try Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent(format.fileName) + (file.isEmpty ? "" : "/" + file)))
                let folder = try Data(contentsOf: URL(fileURLWithPath: again + (file.isEmpty ? "" : "/" + file)))
                #expect(!memory.isEmpty, "\(format) \(file)")
                #expect(memory == folder, "\(format) \(file): \(memory.count) bytes from memory, \(folder.count) from the folder")
            }
        }
    }

    /// The digits MLP, int8 weights and static int8 activations: ONNX and the C sources.
    @Test func mlpONNXAndCFromMemoryEqualFromFolder() throws {
        try withTemporaryDirectory { dir in
            _ = try ModelExporterTests.compressDigits(dir, formats: "safetensors, onnx, c")
            let rows = try EvaluationData.featureRows(ModelExporterTests.digits + "/calibration.tsv")
            try Self.expectSameBytes(out: dir + "/out", dir: dir, formats: [.onnx, .c], calibration: rows)
        }
    }

    /// A tiny random BERT sentence encoder, int4 asymmetric groups beside dense layers: ONNX and GGUF
    /// (whose vocabulary comes from the tokenizer in memory, or from `vocab.txt` in the folder).
    @Test func bertONNXAndGGUFFromMemoryEqualFromFolder() throws {
        try withTemporaryDirectory { dir in
            let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "##a", "##b"]
            try TinyBertFolder.write(to: dir + "/model", vocabulary: vocabulary, width: 32, layers: 2, intermediateWidth: 64, seed: 11)
            try "a b c\nb c a\nab ba\n".write(toFile: dir + "/s.txt", atomically: true, encoding: .utf8)
            let yaml = """
            name: tiny
            model: { path: \(dir)/model }
            evaluation:
              - { task: fidelity, data: \(dir)/s.txt }
            stages:
              - quantize: { bits: 4, group_size: 16, symmetric: false, ignore: ["*.attention.self.*"] }
            output: { dir: \(dir)/out, formats: [safetensors, onnx, gguf] }
            """
            var pipeline = Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml"))
            pipeline.exporter = ModelExporterTests.exporter
            try pipeline.run()
            // Packed and dense layers side by side: 3 of each per block.
            #expect(try PackedModel.load(path: dir + "/out").quantized.count == 2 * 3)
            try Self.expectSameBytes(out: dir + "/out", dir: dir, formats: [.onnx, .gguf])
        }
    }
}
