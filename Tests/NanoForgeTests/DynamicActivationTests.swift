import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// `activations: {mode: dynamic}`: the recipe field, the per-token fake quantization evaluation
/// applies, and its checkpoint metadata.
struct DynamicActivationTests {
    @Test func recipeDecodesDynamicModeWithoutCalibration() throws {
        let recipe = try RecipeDecodingTests.recipe(stages: "  - quantize: { bits: 8, activations: { mode: dynamic } }")
        guard let options = recipe.stages.first?.pass as? QuantizePass else { Issue.record("not quantize"); return }
        #expect(options.activations == QuantizePass.Activations(bits: 8, observer: .minmax, symmetric: true, mode: .dynamic))
        // Dynamic scales come from each token at run time: no calibration data is needed.
        #expect(!RecipeValidation.needsCalibration(recipe.stages[0]))
        let staticRecipe = try RecipeDecodingTests.recipe(stages: "  - quantize: { activations: { mode: static } }",
                                                          extra: "data: { calibration: { path: c.txt } }")
        #expect(RecipeValidation.needsCalibration(staticRecipe.stages[0]))
    }

    @Test(arguments: ["{ mode: dynamic, observer: mse }", "{ mode: dynamic, percentile: 99 }", "{ mode: dynamic, symmetric: false }",
                      "{ mode: per_token }"])
    func recipeRejectsDynamicWithStaticSettings(_ activations: String) {
        let error = RecipeDecodingTests.error(stages: "  - quantize: { activations: \(activations) }")
        #expect(error != nil, "\(activations)")
    }

    /// Each row on its own symmetric grid: codes within ±127, the row's absmax exact, every
    /// element within half a step of the input, an all-zero row unchanged.
    @Test(arguments: [(1, 7), (5, 64), (3, 385)])
    func perRowFakeQuantizationIsOnEachRowsGrid(_ rows: Int, _ columns: Int) {
        var rng = RandomGenerator(seed: UInt64(rows * 1000 + columns))
        var x = rng.normal(shape: [rows, columns], std: 2)
        for c in 0..<columns { x.scalars[c] = 0 }     // row 0 all zeros
        let y = QuantizationNumerics.fakeQuantizePerRow(x, bits: 8)
        #expect(y.shape == x.shape)
        for r in 0..<rows {
            let row = Array(x.scalars[(r * columns)..<((r + 1) * columns)]), out = Array(y.scalars[(r * columns)..<((r + 1) * columns)])
            let absmax = row.map(abs).max() ?? 0
            if absmax == 0 { #expect(out.allSatisfy { $0 == 0 }); continue }
            let scale = absmax / 127
            for (a, b) in zip(row, out) {
                #expect(abs(a - b) <= scale / 2 * 1.0001)
                let code = b / scale
                #expect(abs(code - code.rounded()) < 1e-3 && abs(code) <= 127.001)
            }
            #expect(out.map(abs).max() == absmax || abs((out.map(abs).max() ?? 0) - absmax) <= absmax * 1e-6)
        }
    }

    @Test func dynamicMetadataRoundTrips() throws {
        let activations: [String: ActivationQuantization] = [
            "encoder.layer.0.output.dense": .dynamicPerToken(),
            "encoder.layer.0.intermediate.dense": ActivationQuantization(parameters: QuantizationParameters(scale: 0.5, zeroPoint: 3), symmetric: false),
        ]
        let text = try #require(ActivationMetadata.encode(activations))
        #expect(text.contains("\"mode\":\"dynamic\""))
        let store = TensorStore(tensors: [], metadata: [ActivationMetadata.key: text])
        #expect(try ActivationMetadata.decode(store) == activations)
        let bad = TensorStore(tensors: [], metadata: [ActivationMetadata.key: #"{"a":{"bits":8,"symmetric":false,"mode":"dynamic"}}"#])
        #expect(throws: CheckpointError.self) { try ActivationMetadata.decode(bad) }
    }
}
