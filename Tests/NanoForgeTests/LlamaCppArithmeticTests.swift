import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor
@testable import NanoForge

/// `GGMLDotProductInput` (the input rounding of llama.cpp's CPU matrix products) against ggml's
/// reference quantizers, and `LlamaCppArithmetic.install` on a tiny Llama.
@Suite struct LlamaCppArithmeticTests {
    static func rows(_ count: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        var x = rng.normal(shape: [count], std: 2)
        for j in 0..<32 { x.scalars[j] = 0 }                       // an all-zero block
        if count > 300 { x.scalars[300] = -40 }                       // a negative extreme
        return x
    }

    @Test func q8_0IsGGMLsQ8_0BlocksDecoded() throws {
        let x = Self.rows(1024, seed: 1)
        let bytes = try x.scalars.withUnsafeBufferPointer { try GGUFBlockEncoder.encode($0, as: .q8_0, rowLength: 1024, tensor: "x", file: "test") }
        let decoded = try #require(bytes.withUnsafeBytes { GGUFBlocks.decode($0, type: .q8_0, count: 1024) })
        #expect(GGMLDotProductInput.q8_0.round(x).scalars == decoded)
    }

    /// quantize_row_q8_K_ref transcribed: the signed extreme's −127/max, ggml's nearest_int
    /// (the 1.5·2²³ trick, round half to even), codes capped at 127, d = 1/iscale.
    @Test func q8_KIsGGMLsReferenceQuantizer() {
        let x = Self.rows(1024, seed: 2)
        var expected = [Float](repeating: 0, count: 1024)
        for b in 0..<4 {
            let v = Array(x.scalars[b * 256..<(b + 1) * 256])
            var amax: Float = 0, maxValue: Float = 0
            for value in v where abs(value) > amax { amax = abs(value); maxValue = value }
            guard amax != 0 else { continue }
            let iscale = -127 / maxValue
            for j in 0..<256 {
                let magic = iscale * v[j] + 12_582_912
                let code = Int32(bitPattern: magic.bitPattern & 0x007f_ffff) - 0x0040_0000
                expected[b * 256 + j] = (1 / iscale) * Float(min(127, code))
            }
        }
        #expect(GGMLDotProductInput.q8_K.round(x).scalars == expected)
    }

    @Test func f16IsHalfPrecision() {
        let x = Self.rows(64, seed: 3)
        #expect(GGMLDotProductInput.f16.round(x).scalars == x.scalars.map { HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits($0)) })
    }

    @Test func eachWeightTypeMeetsItsVecDotType() {
        for type in [GGUFTensorType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl] { #expect(GGMLDotProductInput.of(weight: type) == .q8_0) }
        for type in [GGUFTensorType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K] { #expect(GGMLDotProductInput.of(weight: type) == .q8_K) }
        #expect(GGMLDotProductInput.of(weight: .f16) == .f16)
        #expect(GGMLDotProductInput.of(weight: .f32) == nil)
    }

    static func tinyTiedLlama() -> LlamaModel {
        var rng = RandomGenerator(seed: 5)
        let c = LlamaConfiguration(vocabularySize: 37, width: 32, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 48,
                                   contextLength: 40, ropeBase: 5_000, rmsEpsilon: 1e-5, tiedEmbeddings: true, attentionBias: false)
        let model = LlamaModel(c, rng: &rng)
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        return model
    }

    @Test func installRoundsTheInputsOfQuantizedMatricesAndTheTiedHead() {
        let tokens = [3, 9, 1, 30, 7, 7, 12, 0]
        func logits(_ m: LlamaModel) -> [Float] { m(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value.scalars }
        let model = Self.tinyTiedLlama()
        let plain = logits(model)
        // All F32: nothing installed, the same bits.
        var types: [String: GGUFTensorType] = [:]
        for (name, _) in model.namedParameters { types[name] = .f32 }
        #expect(LlamaCppArithmetic.install(on: model, weightTypes: types) == "no quantized matrices")
        #expect(logits(model) == plain)
        // Q4_0 attention and gate/up (rows of 32), down_proj F32 (rows of 48), Q8_0 tied table.
        for (name, _) in model.namedParameters where name.hasSuffix("_proj.weight") && !name.contains("down_proj") { types[name] = .q4_0 }
        types["model.embed_tokens.weight"] = .q8_0
        #expect(LlamaCppArithmetic.install(on: model, weightTypes: types) == "Q8_0: 13")
        for (name, layer) in model.layers(of: Linear.self) {
            #expect((layer.inputTransform != nil) == !name.hasSuffix("down_proj"), "\(name)")
        }
        #expect(model.tiedHeadInputTransform != nil)
        let rounded = logits(model)
        #expect(rounded != plain)
        // The rounding moves logits by about what 8-bit inputs do, not more.
        let worst = zip(rounded, plain).map { abs($0 - $1) }.max() ?? 0
        let scale = plain.map(abs).max() ?? 1
        #expect(worst > 0 && worst < 0.05 * scale, "max |Δ logit| \(worst) against max |logit| \(scale)")
    }
}
