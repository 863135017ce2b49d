import Foundation
import Testing
import NanoForge
import TestSupport

/// `mixed_precision` against the uniform bit width of the same size on the digits classifier: the
/// allocation never exceeds its byte budget (set to the uniform int4 model's size) and its measured
/// fidelity beats uniform int4's.
@Suite struct MixedPrecisionUniformTests {
    @Test func beatsUniformInt4AtTheSameSize() throws {
        try withTemporaryDirectory { dir in
            func run(_ stage: String, _ name: String) throws -> CompressionReport {
                try Pipeline(recipe: try Recipe(yaml: PipelineClassifierTests.recipe(dir, stages: "  - " + stage), file: name)).run()
            }
            let uniform = try run("quantize: { bits: 4, group_size: 32 }", "uniform.yaml")
            let budgetMB = (Double(uniform.stages[1].sizeBytes) + 0.5) / 1e6   // + 0.5 byte: no rounding below the size
            let mixed = try run("mixed_precision: { candidates: [2, 4, 8], budget: { size_mb: \(budgetMB) }, group_size: 32 }", "mixed.yaml")
            let mp = try #require(mixed.mixedPrecision)
            let (u, m) = (uniform.stages[1].metrics, mixed.stages[1].metrics)
            print("digits at \(uniform.stages[1].sizeBytes) bytes: uniform int4 cosine \(u["cosine_mean"]!) accuracy \(u["accuracy"]!); mixed \(mp.choice) (\(mixed.stages[1].sizeBytes) bytes) cosine \(m["cosine_mean"]!) accuracy \(m["accuracy"]!)")
            #expect(mixed.stages[1].sizeBytes <= uniform.stages[1].sizeBytes)
            #expect(m["cosine_mean"]! > u["cosine_mean"]!)
        }
    }
}
