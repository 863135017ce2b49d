import Foundation
import Testing
import NanoForge
import TestSupport

/// `mixed_precision` against uniform bit widths on the digits classifier (bytes of the whole
/// model, as the budget counts them): at the size of uniform int4 the allocation is never larger
/// nor worse; with a budget halfway between uniform int4 and int8 it stays within the budget,
/// uses it, and beats uniform int4, the widest uniform choice that fits.
@Suite struct MixedPrecisionUniformTests {
    @Test func meetsItsBudgetAndBeatsTheUniformWidthThatFits() throws {
        try withTemporaryDirectory { dir in
            func run(_ stage: String, _ name: String) throws -> CompressionReport {
                try Pipeline(recipe: try Recipe(yaml: PipelineClassifierTests.recipe(dir, stages: "  - " + stage), file: name)).run()
            }
            let int4 = try run("quantize: { bits: 4, group_size: 32 }", "int4.yaml").stages[1]
            let int8 = try run("quantize: { bits: 8, group_size: 32 }", "int8.yaml").stages[1]
            func mixed(_ bytes: Int) throws -> (StageReport, MixedPrecisionReport) {
                // + 0.5 byte: the budget's MB never rounds below the byte count.
                let report = try run("mixed_precision: { candidates: [2, 4, 8], budget: { size_mb: \((Double(bytes) + 0.5) / 1e6) }, group_size: 32 }", "mixed.yaml")
                return (report.stages[1], try #require(report.mixedPrecision))
            }
            let (same, sameChoice) = try mixed(int4.sizeBytes)
            let budget = (int4.sizeBytes + int8.sizeBytes) / 2
            let (between, choice) = try mixed(budget)
            print("digits: uniform int4 \(int4.sizeBytes) B cosine \(int4.metrics["cosine_mean"]!), int8 \(int8.sizeBytes) B cosine \(int8.metrics["cosine_mean"]!); "
                  + "mixed at int4's size \(sameChoice.choice) \(same.sizeBytes) B cosine \(same.metrics["cosine_mean"]!); "
                  + "mixed at \(budget) B \(choice.choice) \(between.sizeBytes) B cosine \(between.metrics["cosine_mean"]!)")
            #expect(same.sizeBytes <= int4.sizeBytes)
            #expect(same.metrics["cosine_mean"]! >= int4.metrics["cosine_mean"]!)
            #expect(between.sizeBytes <= budget && between.sizeBytes > int4.sizeBytes)
            #expect(between.metrics["cosine_mean"]! > int4.metrics["cosine_mean"]!)
        }
    }
}
