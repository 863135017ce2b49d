import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import TestSupport

/// `GGUFRequantizer` on the tiny Llama GGUF fixture: matrices re-encoded from their dequantized
/// values, everything else (1-D tensors, metadata) carried over as stored.
@Suite struct GGUFRequantizerTests {
    static let input = RepositoryPaths.fixture("checkpoints/gguf/tiny-llama.gguf")

    @Test(arguments: [GGUFTensorType.q8_0, .q4_K, .iq4_nl])
    func matricesAreReencoded(type: GGUFTensorType) throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/out.gguf"
            let notes = try GGUFRequantizer.requantize(input: Self.input, to: path, type: type)
            let source = try GGUFFile.read(path: Self.input), out = try GGUFFile.read(path: path)
            #expect(out.tensors.map(\.name) == source.tensors.map(\.name))
            for key in source.keys where key != "general.file_type" && key != "general.quantization_version" {
                #expect(out[key] == source[key], "\(key)")
            }
            #expect(out["general.quantization_version"] == .uint32(2))
            for info in source.tensors {
                let written = try #require(out.tensorInfo(info.name))
                #expect(written.dimensions == info.dimensions, "\(info.name)")
                if info.dimensions.count < 2 {
                    #expect(written.type == info.type && out.rawData(written) == source.rawData(info), "\(info.name)")
                } else if info.dimensions[0] % type.blockSize == 0 {
                    let expected = try GGUFBlockEncoder.encode(try source.floatValues(info.name), as: type, rowLength: info.dimensions[0],
                                                               tensor: info.name, file: path)
                    #expect(written.type == type && out.rawData(written) == expected, "\(info.name)")
                } else {
                    #expect(written.type == .f16 && notes.contains { $0.hasPrefix(info.name) }, "\(info.name)")
                }
            }
            #expect(notes.isEmpty == (type.blockSize == 32))   // rows of 64 are not whole K-quant blocks
        }
    }

    @Test func unencodableTypeIsRefused() {
        #expect(throws: CheckpointError.self) {
            try GGUFRequantizer.requantize(input: Self.input, to: "/nonexistent/out.gguf", type: GGUFTensorType(name: "IQ4_XS")!)
        }
    }
}
