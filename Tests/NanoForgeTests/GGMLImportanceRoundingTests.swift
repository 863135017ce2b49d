import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoQuant
import NanoTensor
import TestSupport

/// `GGMLQuantizedTensor.roundToNearest(_:as:importance:)` with an importance collected by
/// `ImportanceMatrix.accumulate` from calibration activations: the bytes are the encoder's, and
/// on inputs whose features have very different scales (as a transformer's do) the layer output
/// error ‖X·Wᵀ − X·Ŵᵀ‖² falls below plain round to nearest for every type that uses it.
@Suite struct GGMLImportanceRoundingTests {
    static let columns = 512, rows = 48, tokens = 192

    static func layer() throws -> (weight: Tensor, activations: Tensor, importance: [Float]) {
        var rng = RandomGenerator(seed: 77)
        let weight = Tensor(shape: [rows, columns], scalars: (0..<(rows * columns)).map { _ in rng.nextNormal() })
        let featureScale = (0..<columns).map { _ in exp(1.2 * rng.nextNormal()) }
        let x = (0..<(tokens * columns)).map { i in rng.nextNormal() * featureScale[i % columns] }
        let activations = Tensor(shape: [tokens, columns], scalars: x)
        var matrix = ImportanceMatrix()
        try matrix.accumulate("blk.0.ffn_down.weight", activations: activations)
        return (weight, activations, try #require(matrix.importance(for: "blk.0.ffn_down.weight")))
    }

    /// Σ over tokens and outputs of (x·(w − ŵ))², in Double.
    static func outputError(_ x: Tensor, _ w: Tensor, _ q: Tensor) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let diff = (0..<columns).map { Double(w.scalars[r * columns + $0] - q.scalars[r * columns + $0]) }
            for t in 0..<tokens {
                var dot = 0.0
                for j in 0..<columns { dot += Double(x.scalars[t * columns + j]) * diff[j] }
                total += dot * dot
            }
        }
        return total
    }

    @Test(arguments: GGUFBlockEncoder.encodable)
    func importanceLowersTheLayerOutputError(type: GGUFTensorType) throws {
        let (weight, x, importance) = try Self.layer()
        let plain = try GGMLQuantizedTensor.roundToNearest(weight, as: type)
        let weighted = try GGMLQuantizedTensor.roundToNearest(weight, as: type, importance: importance)
        #expect(try GGMLQuantizedTensor.roundToNearest(weight, as: type, importance: nil) == plain)
        #expect(weighted.blocks == (try GGUFBlockEncoder.encode(weight.scalars, as: type, rowLength: Self.columns,
                                                                importance: importance, tensor: "w", file: "test")))
        let errorPlain = Self.outputError(x, weight, plain.dequantized())
        let errorWeighted = Self.outputError(x, weight, weighted.dequantized())
        if type == .q8_0 {
            #expect(weighted == plain)
        } else {
            #expect(errorWeighted < errorPlain, "\(type): output error \(errorWeighted) with importance, \(errorPlain) without")
        }
    }

    @Test func importanceOfTheWrongWidthIsRefused() throws {
        let (weight, _, importance) = try Self.layer()
        #expect(throws: QuantizationError.calibrationWidthMismatch(expected: Self.columns, found: 256)) {
            try GGMLQuantizedTensor.roundToNearest(weight, as: .q4_K, importance: Array(importance.prefix(256)))
        }
    }

    /// `PassContext.importanceMatrix` on a tiny BERT's calibration sentences: per selected Linear,
    /// the real token rows and Σx² per column, i.e. the diagonal of GPTQ's Σ XᵀX on the same rows.
    @Test func passContextCollectsTheDiagonalOfTheHessianSums() throws {
        try withTemporaryDirectory { dir in
            let (state, context, names) = try HessianSharingTests.calibratedTinyBERT(dir)
            let matrix = try context.importanceMatrix(for: names, in: state)
            let hessians = try context.hessians(for: names, in: state)
            #expect(!hessians.isEmpty && Set(matrix.names) == Set(hessians.keys))
            #expect(matrix.datasets == [dir + "/sentences.txt"])
            for (name, h) in hessians {
                let entry = try #require(matrix.entries[name])
                #expect(entry.counts == [h.rows] && entry.columns == h.columns)
                for j in 0..<h.columns {
                    let diagonal = Double(h.sum[j * h.columns + j])
                    #expect(abs(Double(entry.sums[j]) - diagonal) <= 1e-5 * diagonal + 1e-30, "\(name) column \(j)")
                }
            }
        }
    }
}
