import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
@testable import NanoQuant

/// GGMLBlockGrid against the decoder (GGUFBlocks, bit-identical to gguf-py) and against a plain
/// scan over every code, on every encodable type.
@Suite struct GGMLBlockGridTests {
    static let types = GGUFBlockEncoder.encodable

    /// Byte offsets of each type's f16 fields (scales d, mins m / dmin), as the decoders read them.
    static func f16Fields(_ type: GGUFTensorType) -> [Int] {
        switch type {
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        default: return [0]
        }
    }

    /// Blocks to probe: ggml's own encodings of Gaussian values (a zero block among them) and
    /// blocks of random bytes whose f16 fields are random finite numbers of either sign.
    static func blocks(_ type: GGUFTensorType, seed: UInt64) throws -> [[UInt8]] {
        var rng = RandomGenerator(seed: seed)
        let n = type.blockSize
        var values = rng.normal(shape: [4 * n]).scalars
        for i in 0..<n { values[n + i] = 0 }                                  // an all-zero block
        for i in 0..<n { values[2 * n + i] = values[2 * n + i] * 1e-3 + 5 }   // offset-heavy
        let encoded = [UInt8](try GGUFBlockEncoder.encode(values, as: type, rowLength: n, tensor: "t", file: "test"))
        var result = (0..<4).map { Array(encoded[$0 * type.typeSize..<($0 + 1) * type.typeSize]) }
        for _ in 0..<8 {
            var block = (0..<type.typeSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for offset in f16Fields(type) {
                var bits = UInt16(truncatingIfNeeded: rng.next())
                if bits & 0x7C00 == 0x7C00 { bits &= 0xBFFF }   // no infinities or NaNs
                block[offset] = UInt8(truncatingIfNeeded: bits)
                block[offset + 1] = UInt8(truncatingIfNeeded: bits >> 8)
            }
            result.append(block)
        }
        return result
    }

    /// Targets for element e: Gaussian values at the grid's scale, exact grid values, midpoints
    /// between neighbouring values (ties), zeros of both signs, values far outside the range.
    static func target(_ grid: GGMLElementGrid, _ rng: inout RandomGenerator) -> Float {
        let span = max(abs(grid.scale), 1e-6) * 8
        let c = grid.codes.lowerBound + Int32(rng.nextInt(below: grid.codes.count))
        switch rng.nextInt(below: 7) {
        case 0: return grid.value(c)
        case 1:
            let next = min(c + 1, grid.codes.upperBound)
            return (grid.value(c) + grid.value(next)) / 2
        case 2: return 0
        case 3: return -0.0
        case 4: return (rng.nextUniform() < 0.5 ? -1 : 1) * 1e30
        default: return grid.offset + rng.nextNormal() * span
        }
    }

    @Test(arguments: types)
    func nearestCodesDecodeToThePredictedValuesBitForBit(_ type: GGUFTensorType) throws {
        let grid = try GGMLBlockGrid(type: type)
        var rng = RandomGenerator(seed: UInt64(type.rawValue) + 100)
        for original in try Self.blocks(type, seed: UInt64(type.rawValue)) {
            var block = original
            let n = type.blockSize
            var predicted = [Float](repeating: 0, count: n)
            try block.withUnsafeMutableBufferPointer { raw in
                let p = try #require(raw.baseAddress)
                // The block as stored decodes to value(code(e)).
                let stored = try #require(GGUFBlocks.decode(UnsafeRawBufferPointer(raw), type: type, count: n))
                for e in 0..<n {
                    let g = grid.element(e, in: p)
                    let c = grid.code(e, in: p)
                    #expect(g.codes.contains(c) || type == .q8_0, "\(type) element \(e) code \(c)")
                    if g.codes.contains(c) {
                        #expect(g.value(c).bitPattern == stored[e].bitPattern, "\(type) element \(e) stored code \(c)")
                    }
                }
                for e in 0..<n {
                    let g = grid.element(e, in: p)
                    let x = Self.target(g, &rng)
                    let c = g.nearest(x)
                    // Plain-loop reference: no code is strictly nearer.
                    let best = g.codes.map { abs(x - g.value($0)) }.min()!
                    #expect(g.codes.contains(c) && abs(x - g.value(c)) == best, "\(type) element \(e): x \(x) code \(c)")
                    grid.setCode(c, element: e, in: p)
                    #expect(grid.code(e, in: p) == c)
                    #expect(grid.element(e, in: p) == g, "setCode changed the grid")
                    predicted[e] = g.value(c)
                }
            }
            let decoded = try #require(block.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: type.blockSize) })
            #expect(decoded.map(\.bitPattern) == predicted.map(\.bitPattern), "\(type)")
            // Only code bits moved: the f16 fields are as they were.
            for offset in Self.f16Fields(type) { #expect(block[offset] == original[offset] && block[offset + 1] == original[offset + 1]) }
        }
    }

    /// Every code of every element, written and decoded: each lands where value(c) says.
    @Test(arguments: types)
    func everyCodeRoundTripsThroughTheDecoder(_ type: GGUFTensorType) throws {
        let grid = try GGMLBlockGrid(type: type)
        var block = try Self.blocks(type, seed: 9)[0]
        let n = type.blockSize
        let codes = block.withUnsafeBufferPointer { grid.element(0, in: $0.baseAddress!).codes }
        for c in codes {
            var expected = [Float](repeating: 0, count: n)
            block.withUnsafeMutableBufferPointer { raw in
                // Neighbours get different codes so a write that spills into them shows.
                for e in 0..<n {
                    let code = e % 2 == 0 ? c : codes.upperBound - (c - codes.lowerBound)
                    grid.setCode(code, element: e, in: raw.baseAddress!)
                }
                for e in 0..<n {
                    let code = e % 2 == 0 ? c : codes.upperBound - (c - codes.lowerBound)
                    expected[e] = grid.element(e, in: raw.baseAddress!).value(code)
                }
            }
            let decoded = try #require(block.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: n) })
            #expect(decoded.map(\.bitPattern) == expected.map(\.bitPattern), "\(type) code \(c)")
        }
    }

    @Test func refusesTypesItCannotEncode() {
        #expect(throws: QuantizationError.unsupportedGGMLType(name: "F16", allowed: GGUFBlockEncoder.encodable.map(\.name))) {
            try GGMLBlockGrid(type: .f16)
        }
    }
}
