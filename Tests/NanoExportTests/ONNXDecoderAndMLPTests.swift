import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// Decoders (both position schemes, both norms, GQA, SwiGLU and GELU MLPs) and MLP classifiers
/// run in onnxruntime and match nanoforge's logits.
@Suite struct ONNXDecoderAndMLPTests {
    static let decoders: [GPTDecoder.Configuration] = [
        // Llama-style: rotary, RMSNorm, SwiGLU, grouped-query heads, no biases.
        GPTDecoder.Configuration(vocabularySize: 40, contextLength: 16, width: 32, layers: 2, heads: 4, kvHeads: 2,
                                 feedForwardWidth: 48, feedForward: .swiglu, norm: .rmsNorm, positions: .rotary, bias: false),
        // GPT-2 style: learned positions, LayerNorm, tanh GELU MLP, biases.
        GPTDecoder.Configuration(vocabularySize: 40, contextLength: 16, width: 32, layers: 2, heads: 4),
    ]

    @Test(arguments: 0..<2) func decoderLogitsMatch(_ index: Int) throws {
        var rng = RandomGenerator(seed: 11 + UInt64(index))
        let decoder = GPTDecoder(Self.decoders[index], rng: &rng)
        let quantized = try ONNXTinyModelTests.quantize(.decoder(decoder), [
            "blocks.0.attn.q_proj": QuantizationScheme(bits: 4, symmetric: false, granularity: .group(16)),
            "blocks.1.ffn.down_proj": QuantizationScheme(bits: 8, symmetric: true, granularity: .channel),
            "lm_head": QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)),
        ])
        let (batch, length) = (2, 7)
        let tokens = (0..<(batch * length)).map { _ in rng.nextInt(below: 40) }
        let expected = decoder(tokens, batch: batch, length: length, tape: Tape(recording: false)).value
        let result = try ONNXTinyModelTests.export(ExportSource(model: .decoder(decoder), quantized: quantized, provenance: ONNXTinyModelTests.provenance),
                                                   inputs: ["input_ids": .int64([batch, length], tokens)], outputs: ["logits"])
        let logits = try #require(result.outputs["logits"]).tensor
        #expect(logits.shape == [batch, length, 40])
        let diff = ONNXComparison.maxAbsDifference(logits, expected)
        // Measured 5.2e-8 (rotary) and 8.9e-8 (learned); logits are about 0.3 at most.
        #expect(diff < 1e-6, "logits max |Δ| \(diff) (largest logit \(expected.scalars.map(abs).max() ?? 0))")
        #expect(result.ops.contains("com.microsoft::MatMulNBits") && !result.ops.contains("DequantizeLinear"))
    }

    /// Blocks that disagree about rotary embeddings cannot share one table: a clear refusal.
    @Test func mixedRotaryBlocksAreRefused() throws {
        var rng = RandomGenerator(seed: 5)
        let rotary = GPTDecoder(Self.decoders[0], rng: &rng)
        var plainConfig = Self.decoders[0]
        plainConfig.positions = .learned
        let plain = GPTDecoder(plainConfig, rng: &rng)
        let mixed = GPTDecoder(configuration: Self.decoders[0], tokenEmbedding: rotary.tokenEmbedding, positionEmbedding: nil,
                               blocks: [rotary.blocks[0], plain.blocks[1]], finalNorm: rotary.finalNorm, head: rotary.head)
        let source = ExportSource(model: .decoder(mixed), provenance: ONNXTinyModelTests.provenance)
        #expect {
            try ONNXExporter.export(source, to: "/nonexistent-folder/model.onnx")
        } throws: { error in
            guard case ONNXExportError.unsupportedModel(family: "decoder", let reason) = error else { return false }
            return reason.contains("block 1")
        }
    }

    @Test(arguments: [Activation.relu, .gelu, .tanh]) func mlpLogitsMatch(_ activation: Activation) throws {
        var rng = RandomGenerator(seed: 21)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 64, hidden: [32, 16], classes: 10, activation: activation), rng: &rng)
        let quantized = try ONNXTinyModelTests.quantize(.mlp(mlp), [
            "layers.0": QuantizationScheme(bits: 8, symmetric: true, granularity: .channel),
            "layers.1": QuantizationScheme(bits: 4, symmetric: true, granularity: .group(16)),
        ])
        let features = rng.normal(shape: [5, 64])
        let expected = mlp(Variable(features), tape: Tape(recording: false)).value
        let result = try ONNXTinyModelTests.export(ExportSource(model: .mlp(mlp), quantized: quantized, provenance: ONNXTinyModelTests.provenance),
                                                   inputs: ["features": .float32(features)], outputs: ["logits"])
        let logits = try #require(result.outputs["logits"]).tensor
        let diff = ONNXComparison.maxAbsDifference(logits, expected)
        #expect(diff < 1e-6, "logits max |Δ| \(diff)")   // measured 3e-8 to 6e-8
        #expect(result.inputs == ["features"] && result.outputNames == ["logits"])
    }

    /// Per-row scales on rows that no power-of-two block divides (53 and 24 inputs: the last block
    /// padded with zero weights), symmetric and asymmetric, 8 and 4 bits: onnxruntime's default
    /// session computes the float product nanoforge evaluates (MatMulNBits, accuracy level 1).
    @Test func perRowWeightsOnRaggedBlocksMatch() throws {
        var rng = RandomGenerator(seed: 31)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 53, hidden: [24, 16], classes: 5), rng: &rng)
        let quantized = try ONNXTinyModelTests.quantize(.mlp(mlp), [
            "layers.0": QuantizationScheme(bits: 8, symmetric: false, granularity: .channel),
            "layers.1": QuantizationScheme(bits: 4, symmetric: true, granularity: .channel),
            "layers.2": QuantizationScheme(bits: 8, symmetric: true, granularity: .tensor),
        ])
        let features = rng.normal(shape: [6, 53])
        let expected = mlp(Variable(features), tape: Tape(recording: false)).value
        let result = try ONNXTinyModelTests.export(ExportSource(model: .mlp(mlp), quantized: quantized, provenance: ONNXTinyModelTests.provenance),
                                                   inputs: ["features": .float32(features)], outputs: ["logits"])
        for logits in [try #require(result.outputs["logits"]).tensor, try #require(result.defaultOutputs["logits"]).tensor] {
            let diff = ONNXComparison.maxAbsDifference(logits, expected)
            #expect(diff < 1e-5, "logits max |Δ| \(diff)")
        }
        #expect(result.metadata["nanoforge.export_notes"] == nil && result.ops.contains("com.microsoft::MatMulNBits"))
    }

    /// What the exporter wrote decodes back (Swift decoder) to the graph it built.
    @Test func exportedFileDecodes() throws {
        var rng = RandomGenerator(seed: 4)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 6, hidden: [4], classes: 2), rng: &rng)
        let source = ExportSource(model: .mlp(mlp), provenance: ONNXTinyModelTests.provenance)
        try withTemporaryDirectory { folder in
            let path = folder + "/mlp.onnx"
            try Data("old".utf8).write(to: URL(fileURLWithPath: path))
            try ONNXExporter.export(source, to: path)
            let decoded = try ONNXModel(decoding: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(decoded == (try ONNXExporter.model(source)))
            #expect(decoded.graph.nodes.map(\.opType) == ["MatMul", "Add", "Relu", "MatMul", "Add", "Identity"])
            let w0 = try #require(decoded.graph.initializers.first { $0.name == "layers.0.weight" })
            #expect(w0.dims == [6, 4])   // transposed to [in, out] for MatMul
            #expect(decoded.metadata.map(\.key) == ["nanoforge.recipe", "nanoforge.source_sha256", "nanoforge.version", "nanoforge.metrics"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["mlp.onnx"])   // no temporary left
        }
    }

    /// Past protobuf's 2 GB limit (lowered here) the export is refused with the size.
    @Test func modelsPastTheSizeLimitAreRefused() throws {
        var rng = RandomGenerator(seed: 6)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: 16, hidden: [16], classes: 4), rng: &rng)
        let source = ExportSource(model: .mlp(mlp), provenance: ONNXTinyModelTests.provenance)
        let bytes = try ONNXExporter.serializedModel(source).count
        #expect(throws: ONNXExportError.modelTooLarge(bytes: bytes)) { try ONNXExporter.serializedModel(source, limit: bytes) }
        #expect(throws: ONNXExportError.modelTooLarge(bytes: (16 * 16 + 16 + 16 * 4 + 4) * 4)) { try ONNXExporter.serializedModel(source, limit: 1000) }
        #expect(ONNXExportError.modelTooLarge(bytes: 3_000_000_000).description.contains("2 GB"))
    }

    @Test func weightFormsFollowTheScheme() throws {
        func form(_ bits: Int, _ symmetric: Bool, _ g: QuantizationScheme.Granularity) throws -> ONNXWeightForm {
            ONNXWeightForm.choose(for: try RTN.quantize(Tensor(shape: [4, 64], scalars: (0..<256).map { Float($0 % 7) - 3 }),
                                                        scheme: QuantizationScheme(bits: bits, symmetric: symmetric, granularity: g)))
        }
        #expect(try form(8, true, .channel) == .matMulNBits(bits: 8, blockSize: 64))
        #expect(try form(8, false, .tensor) == .matMulNBits(bits: 8, blockSize: 64))
        #expect(try form(8, true, .group(32)) == .matMulNBits(bits: 8, blockSize: 32))
        #expect(try form(4, true, .channel) == .matMulNBits(bits: 4, blockSize: 64))
        #expect(try form(4, true, .group(32)) == .matMulNBits(bits: 4, blockSize: 32))
        #expect(try form(4, false, .group(64)) == .matMulNBits(bits: 4, blockSize: 64))
        #expect([384, 1536, 53, 48].map(ONNXWeightForm.rowBlockSize) == [128, 256, 32, 16])
        for (bits, g) in [(4, QuantizationScheme.Granularity.group(8)), (8, .group(8)), (6, .channel), (2, .group(16))] {
            guard case .floatFallback = try form(bits, true, g) else { Issue.record("int\(bits) \(g) should fall back"); continue }
        }
    }
}
