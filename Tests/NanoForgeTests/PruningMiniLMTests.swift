import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// Pruning the real all-MiniLM-L6-v2 (from `make setup`'s cache): 2:4 Wanda against 2:4 magnitude,
/// and the latency of structured feed-forward pruning. Figures are printed for the report.
@Suite(.serialized) struct PruningMiniLMTests {
    static let modelPath = RepositoryPaths.cache("models/all-MiniLM-L6-v2")

    static func load() throws -> SentenceEncoder {
        _ = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2/model.safetensors")
        return try SentenceEncoder.load(path: modelPath)
    }

    /// Calibration sentences (the first 32) and held-out evaluation sentences (the next `count`).
    static func sentences(count: Int = 64) throws -> (calibration: [String], evaluation: [String]) {
        let text = try String(contentsOfFile: try RepositoryPaths.requireCached("data/pydoc-sentences.txt"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return (Array(lines.prefix(32)), Array(lines.dropFirst(32).prefix(count)))
    }

    /// Mean and minimum cosine between rows of two embedding matrices (rows are L2-normalised).
    static func cosines(_ a: Tensor, _ b: Tensor) -> (mean: Double, min: Double) {
        let d = a.shape[1]
        var values: [Double] = []
        for i in 0..<a.shape[0] {
            var dot = 0.0, na = 0.0, nb = 0.0
            for j in 0..<d {
                let x = Double(a.scalars[i * d + j]), y = Double(b.scalars[i * d + j])
                dot += x * y; na += x * x; nb += y * y
            }
            values.append(dot / (na.squareRoot() * nb.squareRoot()))
        }
        return (values.reduce(0, +) / Double(values.count), values.min() ?? 0)
    }

    static func encoderLayers(_ e: SentenceEncoder) -> [(name: String, layer: Linear)] {
        e.encoder.layers(of: Linear.self).filter { $0.name.hasPrefix("encoder.") }
    }

    @Test func wandaBeatsMagnitudeAtTwoOfFour() throws {
        let (calibration, evaluation) = try Self.sentences()
        let encoder = try Self.load()
        let reference = encoder.encode(evaluation)
        let batch = encoder.batch(calibration)
        let norms = BertCalibration.inputNorms(encoder.encoder, batches: [(batch.ids, batch.attentionMask)])

        let pass = { (method: PruningMethod) throws -> (mean: Double, min: Double, sparsity: Double) in
            let pruned = try Self.load()
            let results = try UnstructuredPruning(.init(method: method, sparsity: 0.5, pattern: .nOfM(n: 2, m: 4)))
                .apply(to: Self.encoderLayers(pruned), inputNorms: norms)
            let c = Self.cosines(pruned.encode(evaluation), reference)
            return (c.mean, c.min, overallSparsity(results.map(\.mask)))
        }
        let magnitude = try pass(.magnitude), wanda = try pass(.wanda)
        print("MiniLM 2:4 on \(evaluation.count) pydoc sentences (32 calibration): magnitude cosine mean \(magnitude.mean) min \(magnitude.min); "
              + "wanda cosine mean \(wanda.mean) min \(wanda.min); sparsity \(wanda.sparsity)")
        #expect(magnitude.sparsity == 0.5 && wanda.sparsity == 0.5)
        // Measured (release, first pruning session): magnitude mean 0.594 (min 0.483), wanda mean 0.745 (min 0.613).
        #expect(wanda.mean > magnitude.mean)
        #expect(wanda.mean >= 0.72)
    }

    /// Median wall time of `SentenceEncoder.encode` at batch 32, before and after removing half of
    /// every layer's feed-forward neurons. Printed, not asserted: tests do not depend on timing.
    @Test func structuredFeedForwardPruningLatency() throws {
        let (calibration, evaluation) = try Self.sentences(count: 64)
        let encoder = try Self.load()
        let reference = encoder.encode(evaluation)
        func medianSeconds(_ runs: Int = 7) -> Double {
            _ = encoder.encode(evaluation, batchSize: 32)
            let times = (0..<runs).map { _ -> Double in
                let start = DispatchTime.now().uptimeNanoseconds
                _ = encoder.encode(evaluation, batchSize: 32)
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            return times.sorted()[runs / 2]
        }
        let before = medianSeconds()
        let batch = encoder.batch(calibration)
        let norms = BertCalibration.inputNorms(encoder.encoder, batches: [(batch.ids, batch.attentionMask)])
        let report = try StructuredPruning(.init(feedForwardRatio: 0.5, importance: .activation)).apply(to: encoder.encoder, inputNorms: norms)
        let after = medianSeconds()
        let c = Self.cosines(encoder.encode(evaluation), reference)
        print(String(format: "MiniLM encode 64 pydoc sentences at batch 32: %.1f ms before, %.1f ms after removing 50%% of FFN neurons (%.2fx); "
                     + "parameters %d → %d; cosine mean %.4f min %.4f", before * 1000, after * 1000, before / after,
                     report.parametersBefore, report.parametersAfter, c.mean, c.min))
        #expect(encoder.encoder.configuration.intermediateWidth == 768)
        #expect(report.parametersBefore - report.parametersAfter == 6 * 768 * (384 + 1 + 384))
    }
}
