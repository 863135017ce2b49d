import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor
import TestSupport

/// The packed runtime's lean GGUF loader (`GGMLDecoding.loadModel`: no Float32 copy of the packed
/// matrices, the tied table's rows decoded per token) against the full load (`PackedModel.load`,
/// every tensor decoded, then `GGMLDecoding.install`): the same report and bit-identical logits
/// through a prefill and single-token steps, on nanoforge-written files with every block type
/// the runtime has a kernel for (plus F32 matrices it leaves dense) and on SmolLM2.
@Suite struct GGMLDecodingLoadingTests {
    /// Logits of a prefill of `tokens` then `steps` single tokens (the argmax each time).
    static func decodeSteps(_ model: LlamaModel, _ tokens: [Int], steps: Int) -> [Tensor] {
        let cache = LlamaKVCache(for: model, capacity: tokens.count + steps)
        var logits = [model.decode(tokens, cache: cache)]
        for _ in 0..<steps {
            let last = logits.last!.scalars.suffix(model.configuration.vocabularySize)
            logits.append(model.decode([TokenSampler.argmax(last)], cache: cache))
        }
        return logits
    }

    static func expectSameDecoding(_ path: String, tokens: [Int], steps: Int) throws -> GGMLDecoding.Report {
        let file = try GGUFFile.read(path: path)
        let (lean, leanReport) = try GGMLDecoding.loadModel(file: file)
        let full = try #require(try PackedModel.load(path: path).model.as(LlamaModel.self))
        let fullReport = try GGMLDecoding.install(on: full, file: file)
        #expect(leanReport == fullReport, "lean \(leanReport) against full \(fullReport)")
        #expect(lean.requiresDecodingProjections && !full.requiresDecodingProjections)
        let a = decodeSteps(lean, tokens, steps: steps), b = decodeSteps(full, tokens, steps: steps)
        for (i, (x, y)) in zip(a, b).enumerated() {
            #expect(x.shape == y.shape && x.scalars == y.scalars, "\(path): step \(i): logits differ (max |Δ| \(zip(x.scalars, y.scalars).map { abs($0 - $1) }.max() ?? -1))")
        }
        return leanReport
    }

    @Test(arguments: [false, true])
    func tinyFileDecodesAsTheFullLoad(tied: Bool) throws {
        let (model, codes) = try TinyLlamaCodes.make(tied: tied)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            try GGUFExporter.export(ExportSource(model: .llama(model), ggmlQuantized: codes, tokenizer: try TinyLlamaCodes.tokenizer(),
                                                 provenance: Provenance(recipe: "test", sourceSHA256: "")), to: path, type: .f32)
            let report = try Self.expectSameDecoding(path, tokens: GGMLDecodingTests.tinyTokens, steps: 4)
            // The uncoded F32 matrices were decoded and run dense; the coded ones run on blocks.
            #expect(report.dense.count == 2 && report.packedCount == codes.count - (tied ? 0 : 1), "\(report)")
            let (lean, _) = try GGMLDecoding.loadModel(file: try GGUFFile.read(path: path))
            // A tied table on blocks is never built as Float32; an untied one is the lookup table.
            #expect(lean.tokenEmbedding.weight.value.count == (tied ? 0 : 256 * 64))
            #expect((lean.decodingProjections.tokenRows != nil) == tied)
        }
    }

    /// The token lookup from a tied head's blocks gives the decoded table's rows, for every type
    /// with a block kernel and row indices in any order (repeats included).
    @Test func blockRowsEqualTheDecodedTable() throws {
        var rng = RandomGenerator(seed: 3)
        let weight = rng.normal(shape: [40, 256], std: 0.5)
        for type: GGUFTensorType in [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl, .q4_K, .q6_K] {
            let q = try GGMLQuantizedTensor.roundToNearest(weight, as: type)
            let linear = try GGMLLinear(type: type, rows: 40, columns: 256, blocks: q.blocks)
            let table = q.dequantized()
            let indices = [39, 0, 7, 7, 21]
            let rows = linear.rows(indices)
            #expect(rows.shape == [5, 256])
            for (i, r) in indices.enumerated() {
                #expect(Array(rows.scalars[(i * 256)..<((i + 1) * 256)]) == Array(table.scalars[(r * 256)..<((r + 1) * 256)]), "\(type.name) row \(r)")
            }
        }
    }

    /// SmolLM2-135M as shipped: the lean load decodes exactly as the full one.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: GGMLDecodingTests.smolLM2), "SmolLM2 Q4_1 file absent (scripts/setup.sh provides it)"))
    func smolLM2DecodesAsTheFullLoad() throws {
        let tokens = [504, 3575, 282, 4649, 314, 1688, 30, 378, 1116, 1345, 314, 253, 1690, 30, 11, 216]
        let report = try Self.expectSameDecoding(GGMLDecodingTests.smolLM2, tokens: tokens, steps: 3)
        #expect(report.packed == ["Q4_1": 210, "Q8_0": 1] && report.tiedHeadType == "Q8_0", "\(report)")
    }
}
