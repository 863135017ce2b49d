import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// `GGUFBlockEncoder` against ggml itself: on the rows of Fixtures/checkpoints/gguf/ggml-encoder.gguf
/// (zeros, constants, one-signed blocks, ties, outliers, tiny and large values) every type's bytes
/// equal `ggml_quantize_chunk`'s (libggml-base of the pinned llama.cpp, through
/// scripts/fixtures/make_ggml_encoder_fixtures.py), IQ4_NL decodes to ggml's `dequantize_row_iq4_nl`,
/// and round trips stay within each type's measured error.
@Suite struct GGMLEncoderTests {
    static let path = RepositoryPaths.fixture("checkpoints/gguf/ggml-encoder.gguf")

    static func fixture() throws -> (file: GGUFFile, input: [Float], rowLength: Int) {
        let file = try GGUFFile.read(path: path)
        let info = try #require(file.tensorInfo("input"))
        return (file, try file.floatValues("input"), info.dimensions[0])
    }

    @Test(arguments: GGUFBlockEncoder.encodable)
    func bytesEqualGGML(type: GGUFTensorType) throws {
        let (file, input, rowLength) = try Self.fixture()
        let info = try #require(file.tensorInfo(type.name), "fixture lacks \(type.name)")
        #expect(info.type == type && info.elementCount == input.count)
        let theirs = [UInt8](file.rawData(info))
        let ours = [UInt8](try GGUFBlockEncoder.encode(input, as: type, rowLength: rowLength, tensor: type.name, file: "test"))
        #expect(ours.count == theirs.count && ours.count == input.count / type.blockSize * type.typeSize)
        let differing = (0..<(ours.count / type.typeSize)).filter { b in
            ours[(b * type.typeSize)..<((b + 1) * type.typeSize)] != theirs[(b * type.typeSize)..<((b + 1) * type.typeSize)]
        }
        #expect(differing.isEmpty, "\(type): \(differing.count) of \(ours.count / type.typeSize) blocks differ, first \(differing.first.map { "block \($0) (row \($0 * type.blockSize / rowLength))" } ?? "")")
    }

    @Test func iq4NLDecodesAsGGML() throws {
        let (file, input, _) = try Self.fixture()
        let blocks = try file.floatValues("IQ4_NL").map(\.bitPattern)
        let expected = try file.floatValues("IQ4_NL.dequantized").map(\.bitPattern)
        #expect(blocks.count == input.count && blocks == expected)
    }

    /// Rows of a shape the fixture lacks (several rows, 3 super-blocks each) encode row by row as
    /// one long row does: blocks never straddle rows, and the chunked parallel loop keeps order.
    @Test(arguments: GGUFBlockEncoder.encodable)
    func rowsEncodeIndependently(type: GGUFTensorType) throws {
        var rng = RandomGenerator(seed: 5)
        let rowLength = 768, rows = 7
        let values = (0..<(rows * rowLength)).map { _ in rng.nextNormal() }
        let whole = try GGUFBlockEncoder.encode(values, as: type, rowLength: rowLength, tensor: "w", file: "test")
        var joined = Data()
        for r in 0..<rows {
            joined += try GGUFBlockEncoder.encode(Array(values[(r * rowLength)..<((r + 1) * rowLength)]), as: type,
                                                  rowLength: rowLength, tensor: "w", file: "test")
        }
        #expect(whole == joined)
    }

    /// Relative RMS error of decode(encode(x)) on normals at scales 1, 1e-3 and 300: the largest of
    /// the three measured (64 rows of 512, another generator) in the comment, the bound ~8% above.
    /// At 1e-3 the f16 scales of Q6_K and Q8_0 are subnormal and lose bits.
    static let relativeRMSBound: [GGUFTensorType: Float] = [
        .q8_0: 0.0058,   // 0.0054
        .q6_K: 0.022,    // 0.0205
        .q5_K: 0.040,    // 0.0371
        .q5_1: 0.041,    // 0.0383
        .q5_0: 0.047,    // 0.0431
        .q4_K: 0.077,    // 0.0716
        .iq4_nl: 0.083,  // 0.0767
        .q4_1: 0.085,    // 0.0784
        .q4_0: 0.093,    // 0.0864
        .q3_K: 0.163,    // 0.1515
        .q2_K: 0.32,     // 0.2985
    ]

    @Test(arguments: GGUFBlockEncoder.encodable)
    func roundTripErrorIsBounded(type: GGUFTensorType) throws {
        var rng = RandomGenerator(seed: 17)
        for scale: Float in [1, 1e-3, 300] {
            let values = (0..<(64 * 512)).map { _ in rng.nextNormal() * scale }
            let encoded = try GGUFBlockEncoder.encode(values, as: type, rowLength: 512, tensor: "w", file: "test")
            let decoded = try #require(encoded.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: values.count) })
            var error: Double = 0, energy: Double = 0, worst: Float = 0
            for (x, y) in zip(values, decoded) {
                error += Double((x - y) * (x - y)); energy += Double(x * x)
                worst = max(worst, abs(x - y))
            }
            let relative = Float((error / energy).squareRoot())
            #expect(relative <= Self.relativeRMSBound[type]!, "\(type) at scale \(scale): relative RMS error \(relative)")
            // No element is off by more than the block's range (a sanity check on the layout).
            #expect(worst <= 2 * scale * 5, "\(type) at scale \(scale): worst error \(worst)")
        }
    }

    @Test func rowsNotWholeBlocksAreRefusedNamingTheTensor() {
        let values = [Float](repeating: 1, count: 2 * 96)
        for type in GGUFBlockEncoder.encodable where 96 % type.blockSize != 0 {
            do {
                _ = try GGUFBlockEncoder.encode(values, as: type, rowLength: 96, tensor: "blk.0.attn_q.weight", file: "out.gguf")
                Issue.record("\(type): a row of 96 was encoded")
            } catch let error as CheckpointError {
                guard case .invalidTensor(let file, let tensor, let reason) = error else { Issue.record("\(error)"); continue }
                #expect(file == "out.gguf" && tensor == "blk.0.attn_q.weight" && reason.contains("256") && reason.contains("96"))
                #expect(error.description.hasPrefix("out.gguf: tensor 'blk.0.attn_q.weight': \(type.name)"))
            } catch { Issue.record("\(error)") }
        }
        #expect(throws: CheckpointError.self) { try GGUFBlockEncoder.encode(values, as: .q8_0, rowLength: 40, tensor: "w", file: "f") }
        #expect(throws: CheckpointError.self) { try GGUFBlockEncoder.encode([Float](repeating: 0, count: 48), as: .q8_0, rowLength: 32, tensor: "w", file: "f") }
        #expect(throws: CheckpointError.unsupportedDType(file: "f", tensor: "w", dtype: "IQ4_XS")) {
            try GGUFBlockEncoder.encode(values, as: GGUFTensorType(name: "IQ4_XS")!, rowLength: 256, tensor: "w", file: "f")
        }
    }

    /// NaN and ±Inf (which ggml's casts leave undefined) encode without trapping.
    @Test(arguments: GGUFBlockEncoder.encodable)
    func nonFiniteValuesDoNotTrap(type: GGUFTensorType) throws {
        var values = (0..<512).map { Float($0 % 17) - 8 }
        values[3] = .nan; values[40] = .infinity; values[300] = -.infinity; values[301] = 5e38
        let encoded = try GGUFBlockEncoder.encode(values, as: type, rowLength: 512, tensor: "w", file: "f")
        #expect(encoded.count == 512 / type.blockSize * type.typeSize)
    }
}
