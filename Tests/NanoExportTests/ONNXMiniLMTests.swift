import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport

/// The real all-MiniLM-L6-v2 (from the download cache), float and RTN-quantized, exported and run
/// by onnxruntime on the 50 pydoc sentences: its `sentence_embedding` must match nanoforge's
/// SentenceEncoder on the same (dequantized) model, sentence by sentence.
@Suite struct ONNXMiniLMTests {
    enum Variant: String, CaseIterable, CustomTestStringConvertible {
        case float, int8Channel, int4Group32, int4Group128Asymmetric
        var testDescription: String { rawValue }

        var scheme: QuantizationScheme? {
            switch self {
            case .float: return nil
            case .int8Channel: return QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
            case .int4Group32: return QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32))
            case .int4Group128Asymmetric: return QuantizationScheme(bits: 4, symmetric: false, granularity: .group(128))
            }
        }

        /// The operator the quantized layers must appear as.
        var op: String? {
            switch self {
            case .float: return nil
            case .int8Channel: return "DequantizeLinear"
            case .int4Group32, .int4Group128Asymmetric: return "com.microsoft::MatMulNBits"
            }
        }
    }

    @Test(arguments: Variant.allCases) func sentenceEmbeddingsMatch(_ variant: Variant) throws {
        let folder = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")
        let encoder = try SentenceEncoder.load(path: folder)
        var quantized: [String: QuantizedTensor] = [:]
        if let scheme = variant.scheme {
            // Encoder layers only: the pooler is not part of the sentence-embedding graph.
            for (name, layer) in encoder.encoder.layers(of: Linear.self) where name.hasPrefix("encoder.") {
                let q = try RTN.quantize(layer.weight.value, scheme: scheme)
                layer.weight.value = q.dequantized()
                quantized[name] = q
            }
            #expect(quantized.count == 36)
        }
        let text = try String(contentsOfFile: RepositoryPaths.fixture("minilm/pydoc.txt"), encoding: .utf8)
        let sentences = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        #expect(sentences.count == 50)
        let expected = encoder.encode(sentences)
        let batch = encoder.batch(sentences)
        let shape = [batch.batch, batch.length]
        let source = ExportSource(model: .bert(encoder.encoder), vocabulary: encoder.tokenizer.vocabulary, quantized: quantized,
                                  provenance: Provenance(recipe: "", sourceSHA256: String(repeating: "0", count: 64)))
        let result = try ONNXTinyModelTests.export(
            source,
            inputs: ["input_ids": .int64(shape, batch.ids), "attention_mask": .int64(shape, batch.attentionMask.scalars.map { Int($0) }),
                     "token_type_ids": .int64(shape, [Int](repeating: 0, count: batch.ids.count))],
            outputs: ["sentence_embedding"])
        let embeddings = try #require(result.outputs["sentence_embedding"]).tensor
        let cosines = ONNXComparison.rowCosines(embeddings, expected)
        let worst = cosines.min() ?? 0
        print("ONNX MiniLM \(variant.rawValue): min cosine \(worst), mean \(cosines.reduce(0, +) / Double(cosines.count))")
        // Measured min cosine ≥ 1 - 7e-13 for all four variants; the requirement is 0.9999.
        #expect(worst >= 0.999999, "\(variant.rawValue): min cosine \(worst)")
        // With onnxruntime's default session (int8 activations in its fused QDQ kernel) for the record.
        let defaults = ONNXComparison.rowCosines(try #require(result.defaultOutputs["sentence_embedding"]).tensor, expected)
        print("ONNX MiniLM \(variant.rawValue), onnxruntime default session: min cosine \(defaults.min() ?? 0)")
        if let op = variant.op { #expect(result.ops.contains(op)) }
        #expect(result.metadata["nanoforge.export_notes"] == nil)
    }
}
