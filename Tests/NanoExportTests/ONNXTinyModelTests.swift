import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// Every family, exported small and random, runs in onnxruntime and matches nanoforge's forward;
/// quantized layers keep their packed form (QDQ or MatMulNBits) or are noted as float fallbacks.
@Suite struct ONNXTinyModelTests {
    static let provenance = Provenance(recipe: "stages:\n  - quantize: {bits: 8}\n", sourceSHA256: String(repeating: "ab", count: 32),
                                       version: "test", metrics: ["cosine_mean": 0.998])

    /// Quantizes the named layers with RTN and gives the model their dequantized weights, as the
    /// pipeline's quantize stage does.
    static func quantize(_ model: LoadedModel, _ schemes: [String: QuantizationScheme]) throws -> [String: QuantizedTensor] {
        var packed: [String: QuantizedTensor] = [:]
        for (name, layer) in model.container.layers(of: Linear.self) {
            guard let scheme = schemes[name] else { continue }
            let q = try RTN.quantize(layer.weight.value, scheme: scheme)
            layer.weight.value = q.dequantized()
            packed[name] = q
        }
        #expect(packed.count == schemes.count, "every scheme names a layer")
        return packed
    }

    static func export(_ source: ExportSource, inputs: [String: ONNXRuntimeHarness.Input], outputs: [String]) throws -> ONNXRuntimeHarness.Result {
        try withTemporaryDirectory { folder in
            let path = folder + "/model.onnx"
            try ONNXExporter.export(source, to: path)
            return try ONNXRuntimeHarness.run(model: path, inputs: inputs, outputs: outputs)
        }
    }

    // MARK: BERT

    static func bertInputs(batch: Int, lengths: [Int], vocabulary: Int, rng: inout RandomGenerator) -> (ids: [Int], mask: Tensor) {
        let t = lengths.max() ?? 0
        var ids = [Int](repeating: 0, count: batch * t), mask = [Float](repeating: 0, count: batch * t)
        for (b, n) in lengths.enumerated() {
            for j in 0..<n { ids[b * t + j] = 1 + rng.nextInt(below: vocabulary - 1); mask[b * t + j] = 1 }
        }
        return (ids, Tensor(shape: [batch, t], scalars: mask))
    }

    /// Runs a BERT export against nanoforge: hidden states to 1e-4, embeddings to cosine 0.99999.
    static func checkBert(_ bert: BertEncoder, quantized: [String: QuantizedTensor]) throws -> ONNXRuntimeHarness.Result {
        var rng = RandomGenerator(seed: 7)
        let lengths = [9, 5, 1]
        let (ids, mask) = bertInputs(batch: 3, lengths: lengths, vocabulary: bert.configuration.vocabularySize, rng: &rng)
        let tape = Tape(recording: false)
        let hidden = bert(ids, attentionMask: mask, tape: tape)
        let embeddings = SentencePooling.sentenceEmbeddings(hidden, attentionMask: mask, tape: tape).value
        let shape = [3, 9]
        let result = try export(ExportSource(model: .bert(bert), quantized: quantized, provenance: provenance),
                                inputs: ["input_ids": .int64(shape, ids), "attention_mask": .int64(shape, mask.scalars.map { Int($0) }),
                                         "token_type_ids": .int64(shape, [Int](repeating: 0, count: 27))],
                                outputs: ["last_hidden_state", "sentence_embedding"])
        let ortHidden = try #require(result.outputs["last_hidden_state"]).tensor
        let ortEmbeddings = try #require(result.outputs["sentence_embedding"]).tensor
        #expect(ortHidden.shape == [3, 9, bert.configuration.width])
        let diff = ONNXComparison.maxAbsDifference(ortHidden, hidden.value)
        #expect(diff < 5e-6, "last_hidden_state max |Δ| \(diff)")   // measured 4.8e-7 (both models)
        let cosines = ONNXComparison.rowCosines(ortEmbeddings, embeddings)
        #expect(cosines.allSatisfy { $0 > 0.999999 }, "sentence_embedding cosines \(cosines)")   // measured > 1 - 1e-13
        return result
    }

    @Test func bertMatchesNanoforgeAndRecordsProvenance() throws {
        var rng = RandomGenerator(seed: 1)
        let bert = BertEncoder(BertEncoder.Configuration(vocabularySize: 60, width: 32, layers: 2, heads: 4, intermediateWidth: 64,
                                                         maxPositions: 16), rng: &rng)
        let result = try Self.checkBert(bert, quantized: [:])
        #expect(result.inputs == ["input_ids", "attention_mask", "token_type_ids"])
        #expect(result.outputNames == ["last_hidden_state", "sentence_embedding"])
        #expect(result.irVersion == 8 && result.opsets[""] == 17 && result.opsets["com.microsoft"] == 1)
        for (key, value) in Self.provenance.keyValues { #expect(result.metadata[key] == value, "\(key)") }
        #expect(result.metadata["nanoforge.export_notes"] == nil)
        #expect(result.ops.contains("Erf") && result.ops.contains("LayerNormalization"))
    }

    /// Pruned layers (different heads and widths per layer) with every weight form in one model.
    @Test func prunedQuantizedBertKeepsPackedForms() throws {
        var rng = RandomGenerator(seed: 2)
        let config = BertEncoder.Configuration(vocabularySize: 60, width: 32, layers: 2, heads: 4, intermediateWidth: 64, maxPositions: 16,
                                               layerIntermediateWidths: [64, 48], layerHeads: [4, 2])
        let bert = BertEncoder(config, rng: &rng)
        let p0 = "encoder.layer.0.", p1 = "encoder.layer.1."
        let quantized = try Self.quantize(.bert(bert), [
            p0 + "attention.self.query": QuantizationScheme(bits: 8, symmetric: false, granularity: .channel),
            p0 + "attention.self.key": QuantizationScheme(bits: 8, symmetric: true, granularity: .channel),
            p0 + "intermediate.dense": QuantizationScheme(bits: 4, symmetric: true, granularity: .group(16)),
            p1 + "output.dense": QuantizationScheme(bits: 4, symmetric: false, granularity: .group(16)),
            p1 + "attention.self.value": QuantizationScheme(bits: 8, symmetric: true, granularity: .tensor),
            p1 + "attention.self.key": QuantizationScheme(bits: 3, symmetric: true, granularity: .channel),
            p1 + "intermediate.dense": QuantizationScheme(bits: 4, symmetric: true, granularity: .group(8)),
        ])
        let result = try Self.checkBert(bert, quantized: quantized)
        #expect(!result.ops.contains("DequantizeLinear"))     // 8-bit weights are MatMulNBits too
        #expect(result.ops.contains("com.microsoft::MatMulNBits"))
        let notes = try #require(result.metadata["nanoforge.export_notes"]).split(separator: "\n").map(String.init)
        #expect(notes.count == 2, "\(notes)")
        #expect(notes.contains { $0.hasPrefix(p1 + "attention.self.key: int3") })
        #expect(notes.contains { $0.hasPrefix(p1 + "intermediate.dense: int4 sym group8") })
    }

    @Test func quantizedLayerOfTheWrongShapeIsAnError() throws {
        var rng = RandomGenerator(seed: 3)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 8, hidden: [16], classes: 3), rng: &rng)
        let wrong = try RTN.quantize(rng.normal(shape: [16, 4]), scheme: QuantizationScheme(bits: 8))
        let source = ExportSource(model: .mlp(mlp), quantized: ["layers.0": wrong], provenance: Self.provenance)
        #expect(throws: ONNXExportError.quantizedLayerMismatch(layer: "layers.0", expected: [16, 8], found: [16, 4])) {
            try ONNXExporter.export(source, to: "/nonexistent-folder/model.onnx")
        }
    }
}
