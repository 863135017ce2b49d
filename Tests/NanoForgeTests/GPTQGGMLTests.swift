import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
@testable import NanoForge
@testable import NanoQuant

/// GPTQ on ggml's block grids against ggml's own round to nearest (`llama-quantize` without an
/// imatrix) on the same weights.
@Suite struct GPTQGGMLTests {
    static let types = GGUFBlockEncoder.encodable

    /// A weight [48, 512] (two K-quant super-blocks per row) and inputs with correlated columns.
    static func problem(seed: UInt64) throws -> (w: Tensor, x: Tensor, h: HessianAccumulator) {
        var rng = RandomGenerator(seed: seed)
        let w = rng.normal(shape: [48, 512], std: 0.05)
        let x = correlatedInputs(rows: 1024, columns: 512, rank: 96, seed: seed + 1)
        var h = HessianAccumulator(columns: 512)
        try h.add(x)
        return (w, x, h)
    }

    /// Every code in range (Q8_0 never −128, which ggml never writes) and the values equal to
    /// what the grid of each element says (decode is what evaluation uses).
    static func expectValidBlocks(_ q: GGMLQuantizedTensor) throws {
        let grid = try GGMLBlockGrid(type: q.type)
        let decoded = q.dequantized().scalars
        q.blocks.withUnsafeBytes { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for b in 0..<(q.rows * q.columns / grid.elements) {
                let block = base + b * grid.blockBytes
                for e in 0..<grid.elements {
                    let g = grid.element(e, in: block), c = grid.code(e, in: block)
                    #expect(g.codes.contains(c) && g.value(c).bitPattern == decoded[b * grid.elements + e].bitPattern)
                }
            }
        }
    }

    // Measured output-error ratios GPTQ / RTN (seed 11): Q8_0 0.34, Q4_0 0.36, Q4_1 0.38, Q5_0 0.35,
    // Q5_1 0.37, IQ4_NL 0.37, Q2_K 0.55, Q3_K 0.41, Q4_K 0.40, Q5_K 0.39, Q6_K 0.36.
    @Test(arguments: types)
    func beatsGGMLRoundToNearestOnCorrelatedInputs(_ type: GGUFTensorType) throws {
        let (w, x, h) = try Self.problem(seed: 11)
        let rtn = try GGMLQuantizedTensor.roundToNearest(w, as: type)
        let rtnError = relativeOutputError(x, w, rtn.dequantized())
        for actOrder in [false, true] {
            let gptq = try GPTQ.quantize(w, hessian: h, configuration: .init(type: type, activationOrder: actOrder))
            #expect(gptq.type == type && gptq.shape == w.shape && gptq.byteCount == rtn.byteCount)
            try Self.expectValidBlocks(gptq)
            let gptqError = relativeOutputError(x, w, gptq.dequantized())
            #expect(gptqError < 0.75 * rtnError, "\(type) act_order \(actOrder): GPTQ \(gptqError) RTN \(rtnError)")
        }
    }

    /// With H ∝ I no error propagates: every block keeps the parameters ggml's search gives the
    /// original values (the same scales and mins as RTN's bytes) and each element takes the
    /// nearest value on that grid, never farther than ggml's own code.
    @Test(arguments: types)
    func withAnIdentityHessianItIsNearestOnGGMLsGrid(_ type: GGUFTensorType) throws {
        var rng = RandomGenerator(seed: 12)
        let w = rng.normal(shape: [8, 512])
        var h = HessianAccumulator(columns: 512)
        try h.add(Tensor(shape: [512, 512]) { $0 / 512 == $0 % 512 ? 2 : 0 })
        let rtn = try GGMLQuantizedTensor.roundToNearest(w, as: type)
        let gptq = try GPTQ.quantize(w, hessian: h, configuration: .init(type: type, blockSize: 64))
        let grid = try GGMLBlockGrid(type: type)
        let (a, b) = (gptq.dequantized().scalars, rtn.dequantized().scalars)
        rtn.blocks.withUnsafeBytes { r in
            gptq.blocks.withUnsafeBytes { g in
                let rb = r.baseAddress!.assumingMemoryBound(to: UInt8.self), gb = g.baseAddress!.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w.count {
                    let block = i / grid.elements * grid.blockBytes, e = i % grid.elements
                    #expect(grid.element(e, in: gb + block) == grid.element(e, in: rb + block), "\(type) element \(i)")
                    #expect(abs(w.scalars[i] - a[i]) <= abs(w.scalars[i] - b[i]), "\(type) element \(i)")
                }
            }
        }
    }

    /// With a diagonal H no error propagates either; with `importanceWeightedBlocks` every block
    /// keeps the parameters of ggml's search weighted by H's diagonal (the bytes of
    /// `llama-quantize --imatrix` given Σx² per column), and each element takes the nearest value
    /// on that grid.
    @Test(arguments: types)
    func withADiagonalHessianImportanceWeightedBlocksAreGGMLsWeightedSearch(_ type: GGUFTensorType) throws {
        var rng = RandomGenerator(seed: 15)
        let w = rng.normal(shape: [8, 512])
        var h = HessianAccumulator(columns: 512)
        try h.add(Tensor(shape: [512, 512]) { $0 / 512 == $0 % 512 ? 0.5 + Float(($0 % 512) * 7 % 13) : 0 })
        let importance = (0..<512).map { Float(h.sum[$0 * 512 + $0]) }
        let weighted = try GGMLQuantizedTensor.roundToNearest(w, as: type, importance: importance)
        let gptq = try GPTQ.quantize(w, hessian: h, configuration: .init(type: type, blockSize: 64, importanceWeightedBlocks: true))
        let grid = try GGMLBlockGrid(type: type)
        let a = gptq.dequantized().scalars
        weighted.blocks.withUnsafeBytes { r in
            gptq.blocks.withUnsafeBytes { g in
                let rb = r.baseAddress!.assumingMemoryBound(to: UInt8.self), gb = g.baseAddress!.assumingMemoryBound(to: UInt8.self)
                for i in 0..<w.count {
                    let block = i / grid.elements * grid.blockBytes, e = i % grid.elements
                    let element = grid.element(e, in: gb + block)
                    #expect(element == grid.element(e, in: rb + block), "\(type) element \(i)")
                    #expect(a[i] == element.value(element.nearest(w.scalars[i])), "\(type) element \(i)")
                }
            }
        }
    }

    /// A weight ggml's encoder maps onto itself (already on the grid it would choose) comes back
    /// unchanged, bit for bit, whatever the Hessian. Only the types whose encoder gives back its own
    /// output (measured: IQ4_NL's, Q3_K's, Q5_K's and Q6_K's searches choose other scales for some
    /// decoded blocks, so those weights have no fixed grid to come back to).
    @Test(arguments: [GGUFTensorType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q4_K])
    func aWeightOnItsGridComesBackUnchanged(_ type: GGUFTensorType) throws {
        let (w0, _, h) = try Self.problem(seed: 13)
        let onGrid = try GGMLQuantizedTensor.roundToNearest(w0, as: type).dequantized()
        let again = try GGMLQuantizedTensor.roundToNearest(onGrid, as: type).dequantized()
        try #require(again.scalars.map(\.bitPattern) == onGrid.scalars.map(\.bitPattern), "\(type)'s encoder moves its own output")
        for actOrder in [false, true] {
            let gptq = try GPTQ.quantize(onGrid, hessian: h, configuration: .init(type: type, activationOrder: actOrder))
            #expect(gptq.dequantized().scalars.map(\.bitPattern) == onGrid.scalars.map(\.bitPattern), "\(type) act_order \(actOrder)")
        }
    }

    @Test func refusesRowsItsBlocksDoNotTileAndBadSettings() throws {
        var h = HessianAccumulator(columns: 96)
        try h.add(Tensor.ones([4, 96]))
        let w = Tensor.ones([2, 96])
        #expect(throws: QuantizationError.ggmlRowLength(type: "Q4_K", blockSize: 256, columns: 96)) {
            try GPTQ.quantize(w, hessian: h, configuration: .init(type: .q4_K))
        }
        #expect(throws: QuantizationError.unsupportedGGMLType(name: "F16", allowed: GGUFBlockEncoder.encodable.map(\.name))) {
            try GPTQ.quantize(w, hessian: h, configuration: .init(type: .f16))
        }
        #expect(throws: QuantizationError.nonPositiveBlockSize(found: 0)) {
            try GPTQ.quantize(w, hessian: h, configuration: .init(type: .q4_0, blockSize: 0))
        }
        #expect(throws: QuantizationError.calibrationWidthMismatch(expected: 64, found: 96)) {
            try GPTQ.quantize(Tensor.ones([2, 64]), hessian: h, configuration: .init(type: .q4_0))
        }
    }

    /// Pruned (exactly zero) weights stay exactly zero on the symmetric grids.
    @Test func prunedWeightsStayZeroOnSymmetricGrids() throws {
        var (w, _, h) = try Self.problem(seed: 14)
        for i in stride(from: 0, to: w.count, by: 3) { w.scalars[i] = 0 }
        for type in [GGUFTensorType.q4_0, .q8_0, .q6_K, .q3_K] {
            let q = try GPTQ.quantize(w, hessian: h, configuration: .init(type: type)).dequantized()
            #expect(stride(from: 0, to: w.count, by: 3).allSatisfy { q.scalars[$0] == 0 }, "\(type)")
        }
    }
}
