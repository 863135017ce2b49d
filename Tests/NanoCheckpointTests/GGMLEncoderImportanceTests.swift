import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// `GGUFBlockEncoder.encode(importance:)` against ggml itself: on the rows of
/// Fixtures/checkpoints/gguf/ggml-encoder.gguf, with each importance vector of
/// ggml-encoder-imatrix.gguf (`calibration`: log-normal like llama-imatrix's mean x²; `edge`: zero
/// columns, zero blocks and half super-blocks, equal weights, 1e6 and 1e-30 outliers), every
/// type's bytes equal `ggml_quantize_chunk` given the vector as quant_weights (what
/// `llama-quantize --imatrix` calls), written by scripts/fixtures/make_ggml_encoder_fixtures.py.
@Suite struct GGMLEncoderImportanceTests {
    static let path = RepositoryPaths.fixture("checkpoints/gguf/ggml-encoder-imatrix.gguf")
    static let importanceNames = ["calibration", "edge"]

    static func blocksDiffering(_ ours: [UInt8], _ theirs: [UInt8], _ type: GGUFTensorType) -> [Int] {
        (0..<(ours.count / type.typeSize)).filter { b in
            ours[(b * type.typeSize)..<((b + 1) * type.typeSize)] != theirs[(b * type.typeSize)..<((b + 1) * type.typeSize)]
        }
    }

    @Test(arguments: GGUFBlockEncoder.encodable)
    func bytesEqualGGMLWithImportance(type: GGUFTensorType) throws {
        let (_, input, rowLength) = try GGMLEncoderTests.fixture()
        let file = try GGUFFile.read(path: Self.path)
        for name in Self.importanceNames {
            let importance = try file.floatValues("importance.\(name)")
            #expect(importance.count == rowLength)
            let info = try #require(file.tensorInfo("\(type.name).\(name)"), "fixture lacks \(type.name).\(name)")
            #expect(info.type == type && info.elementCount == input.count)
            let theirs = [UInt8](file.rawData(info))
            let ours = [UInt8](try GGUFBlockEncoder.encode(input, as: type, rowLength: rowLength, importance: importance,
                                                           tensor: type.name, file: "test"))
            #expect(ours.count == theirs.count)
            guard ours.count == theirs.count else { continue }
            let differing = Self.blocksDiffering(ours, theirs, type)
            #expect(differing.isEmpty, "\(type) with \(name): \(differing.count) of \(ours.count / type.typeSize) blocks differ, first \(differing.first.map { "block \($0) (row \($0 * type.blockSize / rowLength))" } ?? "")")
        }
    }

    /// The weighted encoders are a different code path: for every type but Q8_0 (which ggml
    /// encodes without its quant_weights) the importance changes the bytes of the fixture rows.
    @Test(arguments: GGUFBlockEncoder.encodable)
    func importanceChangesTheEncoding(type: GGUFTensorType) throws {
        let (_, input, rowLength) = try GGMLEncoderTests.fixture()
        let importance = try GGUFFile.read(path: Self.path).floatValues("importance.calibration")
        let plain = try GGUFBlockEncoder.encode(input, as: type, rowLength: rowLength, tensor: "w", file: "test")
        let weighted = try GGUFBlockEncoder.encode(input, as: type, rowLength: rowLength, importance: importance,
                                                   tensor: "w", file: "test")
        #expect((plain == weighted) == (type == .q8_0))
    }

    /// Several rows (3 super-blocks each) share the importance vector and encode as each row alone
    /// does: the row-parallel loop keeps order, and σ² is a per-row (legacy) or per-super-block
    /// statistic.
    @Test(arguments: GGUFBlockEncoder.encodable)
    func rowsEncodeIndependentlyWithImportance(type: GGUFTensorType) throws {
        var rng = RandomGenerator(seed: 9)
        let rowLength = 768, rows = 41
        let values = (0..<(rows * rowLength)).map { _ in rng.nextNormal() }
        let importance = (0..<rowLength).map { _ in exp(rng.nextNormal()) }
        let whole = try GGUFBlockEncoder.encode(values, as: type, rowLength: rowLength, importance: importance, tensor: "w", file: "test")
        var joined = Data()
        for r in 0..<rows {
            joined += try GGUFBlockEncoder.encode(Array(values[(r * rowLength)..<((r + 1) * rowLength)]), as: type,
                                                  rowLength: rowLength, importance: importance, tensor: "w", file: "test")
        }
        #expect(whole == joined)
    }

    @Test func badImportanceIsATypedError() throws {
        let values = [Float](repeating: 1, count: 512)
        for importance: [Float] in [[Float](repeating: 1, count: 256), [Float](repeating: 1, count: 511) + [-1],
                                    [Float](repeating: 1, count: 511) + [.nan], [Float](repeating: 1, count: 511) + [.infinity]] {
            for type in [GGUFTensorType.q8_0, .q4_K] {
                #expect {
                    _ = try GGUFBlockEncoder.encode(values, as: type, rowLength: 512, importance: importance, tensor: "blk.0.w", file: "m.gguf")
                } throws: { error in
                    guard case CheckpointError.invalidTensor(let file, let tensor, _) = error else { return false }
                    return file == "m.gguf" && tensor == "blk.0.w"
                }
            }
        }
    }
}
