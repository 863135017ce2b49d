import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// Dequantization of every GGUF type nanoforge reads, bit for bit against gguf-py's
/// `gguf.quants.dequantize`: on the committed fixtures (Fixtures/checkpoints/gguf, written by
/// scripts/fixtures/make_gguf_quant_fixtures.py) and, where python3 has gguf, on fresh random
/// blocks. Other types are refused naming the file, the tensor and the type.
@Suite struct GGUFQuantTests {
    static let folder = RepositoryPaths.fixture("checkpoints/gguf")

    static func bits(_ data: Data) -> [UInt32] {
        data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) } }
    }

    /// Each tensor of quant-blocks.gguf decodes to quant-expected.gguf's F32 tensor of the same name.
    @Test func everyReadableTypeMatchesGGUFPy() throws {
        let blocks = try GGUFFile.read(path: Self.folder + "/quant-blocks.gguf")
        let expected = try GGUFFile.read(path: Self.folder + "/quant-expected.gguf")
        // IQ4_NL's decoding is checked against ggml by GGMLEncoderTests (ggml-encoder.gguf).
        #expect(Set(blocks.tensors.map(\.type)) == Set(GGUFTensorType.readable).subtracting([.iq4_nl]), "the fixture covers every other readable type")
        for info in blocks.tensors {
            let reference = try #require(expected.tensorInfo(info.name))
            #expect(reference.type == .f32 && reference.shape == info.shape, "\(info.name)")
            let ours = try blocks.floatValues(info.name).map(\.bitPattern)
            let theirs = Self.bits(expected.rawData(reference))
            #expect(ours.count == info.elementCount && ours.count > 100, "\(info.name)")
            let mismatches = zip(ours, theirs).enumerated().filter { $0.element.0 != $0.element.1 }
            #expect(ours.count == theirs.count && mismatches.isEmpty,
                    "\(info.name) (\(info.type)): \(mismatches.count) of \(theirs.count) differ, first at \(mismatches.first.map { "\($0.offset): \(Float(bitPattern: $0.element.0)) vs \(Float(bitPattern: $0.element.1))" } ?? "-")")
            // Rows of several blocks: the fixtures test the row layout, not only single blocks.
            #expect(info.dimensions[0] >= 2 * info.type.blockSize || info.type.blockSize == 1, "\(info.name)")
        }
    }

    /// `CheckpointReader` (the path every command takes) gives F32 tensors of row-major shape.
    @Test func checkpointReaderGivesFloat32() throws {
        let store = try CheckpointReader.read(path: Self.folder + "/quant-blocks.gguf")
        let expected = try CheckpointReader.read(path: Self.folder + "/quant-expected.gguf")
        #expect(store.format == .gguf && store.count == 13)
        for tensor in store.tensors {
            let reference = try #require(expected[tensor.name])
            #expect(tensor.dtype == .f32 && tensor.shape == reference.shape && tensor.data == reference.data, "\(tensor.name)")
        }
        #expect(store["Q6_K"]?.shape == [3, 512] && store["Q4_1"]?.shape == [5, 96])
    }

    /// TQ2_0, MXFP4 and Q8_1: the header reads, the readable tensor decodes, and the
    /// refused one is a one-line `unsupportedDType` naming the file, the tensor and the type.
    @Test(arguments: ["TQ2_0", "MXFP4", "Q8_1"])
    func otherTypesAreRefused(type: String) throws {
        let path = Self.folder + "/unsupported-\(type.lowercased()).gguf"
        let file = try GGUFFile.read(path: path)
        #expect(file.tensorInfo("w")?.type.name == type && file.tensorInfo("w")?.type.isReadable == false)
        #expect(try file.floatValues("ok") == (0..<8).map(Float.init))
        #expect(throws: CheckpointError.unsupportedDType(file: path, tensor: "w", dtype: type)) { try CheckpointReader.read(path: path) }
        #expect(throws: CheckpointError.unsupportedDType(file: path, tensor: "w", dtype: type)) { try file.floatValues("w") }
        let message = CheckpointError.unsupportedDType(file: path, tensor: "w", dtype: type).description
        #expect(message == "\(path): tensor 'w': unsupported dtype '\(type)'" && !message.contains("\n"))
    }

    /// Random bytes with finite f16 scales at the scale offsets: every code pattern a real file may hold.
    static func randomBlocks(_ type: GGUFTensorType, blocks: Int, seed: UInt64) -> Data {
        let scaleOffsets: [GGUFTensorType: [Int]] = [
            .q8_0: [0], .q4_0: [0], .q4_1: [0, 2], .q5_0: [0], .q5_1: [0, 2], .iq4_nl: [0],
            .q2_K: [80, 82], .q3_K: [108], .q4_K: [0, 2], .q5_K: [0, 2], .q6_K: [208],
        ]
        var rng = RandomGenerator(seed: seed)
        var bytes = [UInt8]((0..<(blocks * type.typeSize)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        for b in 0..<blocks {
            for offset in scaleOffsets[type] ?? [] {
                let scale = rng.nextNormal() * [1e-4, 1e-2, 1, 50][b % 4]
                let half = HalfPrecision.float16Bits(b % 7 == 3 ? 0 : scale)
                bytes[b * type.typeSize + offset] = UInt8(half & 0xFF)
                bytes[b * type.typeSize + offset + 1] = UInt8(half >> 8)
            }
        }
        return Data(bytes)
    }

    /// 200 random blocks of each block type, dequantized by gguf-py in a child process.
    @Test func randomBlocksMatchGGUFPy() throws {
        try PythonRunner.require(modules: ["numpy", "gguf"])
        try withTemporaryDirectory { folder in
            for (i, type) in GGUFTensorType.readable.filter({ $0.blockSize > 1 }).enumerated() {
                let data = Self.randomBlocks(type, blocks: 200, seed: 100 + UInt64(i))
                let path = folder + "/\(type.name).bin"
                try data.write(to: URL(fileURLWithPath: path))
                let script = """
                import sys
                import numpy as np
                from gguf import quants, GGMLQuantizationType as T
                t = getattr(T, sys.argv[2])
                q = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(4, -1)
                quants.dequantize(q, t).astype("<f4").tofile(sys.argv[1] + ".f32")
                """
                try PythonRunner.run(script, arguments: [path, type.name])
                let theirs = Self.bits(try Data(contentsOf: URL(fileURLWithPath: path + ".f32")))
                let count = 200 * type.blockSize
                let ours = data.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: count) ?? [] }.map(\.bitPattern)
                let differ = zip(ours, theirs).filter { $0 != $1 }.count
                #expect(ours.count == count && theirs.count == count && differ == 0, "\(type): \(differ) of \(count) values differ")
            }
        }
    }

    /// Counts that are not whole blocks, too few bytes, and unreadable types give nil.
    @Test func decodeRefusesWhatItCannotRead() {
        let bytes = Data(count: 210)
        bytes.withUnsafeBytes { raw in
            #expect(GGUFBlocks.decode(raw, type: .q6_K, count: 256)?.count == 256)
            #expect(GGUFBlocks.decode(raw, type: .q6_K, count: 512) == nil)
            #expect(GGUFBlocks.decode(raw, type: .q4_1, count: 48) == nil)
            #expect(GGUFBlocks.decode(raw, type: GGUFTensorType(name: "IQ4_XS")!, count: 256) == nil)
        }
        #expect(GGUFTensorType.q4_1.bitsPerWeight == 5 && GGUFTensorType.q8_0.bitsPerWeight == 8.5
                && GGUFTensorType.q6_K.bitsPerWeight == 6.5625 && GGUFTensorType.f32.bitsPerWeight == 32)
    }
}
