import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// SmolLM2-135M through `LlamaModel.decode` (the fused inference path: blockwise causal attention
/// over the KV cache) against transformers' logits, the same goldens and bounds as the full
/// forward pass in `SmolLM2GoldenTests`.
@Suite(.serialized, .enabled(if: SmolLM2Fixture.available, SmolLM2Fixture.skipReason))
struct SmolLM2DecodingParityTests {
    @Test func decodeLogitsMatchTransformers() throws {
        let model = try SmolLM2GoldenTests.model.get(), g = try SmolLM2GoldenTests.golden.get()
        #expect(model.fusedDecodingApplies)
        let windows = SmolLM2GoldenTests.rows(g["tokens"]!)
        let (t, v) = (windows[0].count, model.configuration.vocabularySize)
        let argmax = g["argmax"]!.integers().map(Int.init)
        let columns = g["columns"]!.integers().map(Int.init)
        let columnLogits = try g.floatTensor("column_logits").scalars
        let topIDs = g["top_ids"]!.integers().map(Int.init), topLogits = try g.floatTensor("top_logits").scalars
        var worst: Float = 0, sameTop = 0
        for (s, window) in windows.enumerated() {
            // A prefill of 40 tokens, then the rest one at a time: both of decode's attention forms.
            let cache = LlamaKVCache(for: model, capacity: t)
            let logits = model.decode(Array(window[0..<40]), cache: cache).scalars
                + window[40...].flatMap { model.decode([$0], cache: cache).scalars }
            for p in 0..<t {
                let row = s * t + p, r = logits[p * v..<(p + 1) * v]
                if TokenSampler.argmax(r) == argmax[row] { sameTop += 1 }
                for (i, column) in columns.enumerated() {
                    worst = max(worst, abs(r[p * v + column] - columnLogits[row * columns.count + i]))
                }
                for k in 0..<8 { worst = max(worst, abs(r[p * v + topIDs[row * 8 + k]] - topLogits[row * 8 + k])) }
            }
        }
        print("SmolLM2 decode vs transformers on \(windows.count)×\(t) tokens: top-1 \(sameTop)/\(windows.count * t), max |Δ logit| \(worst)")
        #expect(sameTop == windows.count * t)
        #expect(worst <= 2e-4)
    }
}
