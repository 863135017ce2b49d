import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoQuant
import NanoTensor
import TestSupport

/// End to end against llama.cpp: an importance matrix written by nanoforge
/// (`ImportanceMatrix.writeGGUF`) is given to the pinned `llama-quantize --imatrix`, which
/// requantizes SmolLM2 (set-up's Q4_1 GGUF) with every encodable type on some tensor (Q2_K …
/// Q6_K on ffn_down, whose 1536 columns are whole super-blocks; Q4_0 … Q5_1, IQ4_NL on layer 5's
/// 576-column weights; Q8_0 elsewhere). Every quantized tensor of its output must equal, byte for
/// byte, `GGUFBlockEncoder.encode` of the same dequantized weights with
/// `ImportanceMatrix.importance(for:)`: llama-quantize reads our file, and its weights (sums /
/// count; 1 for a tensor whose count is 0) and encoders are ours.
@Suite struct ImportanceQuantizeInteropTests {
    static let llamaQuantize = RepositoryPaths.cache("tools/llama.cpp/bin/llama-quantize")
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: llamaQuantize) && FileManager.default.fileExists(atPath: ImportanceMatrixTests.model)
    }

    static let overrides = [
        "blk\\.0\\.ffn_down=q2_k", "blk\\.1\\.ffn_down=q3_k", "blk\\.2\\.ffn_down=q4_k", "blk\\.3\\.ffn_down=q5_k",
        "blk\\.4\\.ffn_down=q6_k", "blk\\.5\\.attn_q=q4_0", "blk\\.5\\.attn_k=q4_1", "blk\\.5\\.attn_v=q5_0",
        "blk\\.5\\.attn_output=q5_1", "blk\\.5\\.ffn_up=iq4_nl", "blk\\.6\\.ffn_down=q4_k",
    ]

    @Test(.enabled(if: available, "llama-quantize (scripts/interop/build_llama_cpp.sh) or the SmolLM2 GGUF is missing"))
    func llamaQuantizeWithOurImatrixWritesOurBytes() throws {
        let source = try GGUFFile.read(path: ImportanceMatrixTests.model)
        let linear = source.tensors.filter { $0.name.hasPrefix("blk.") && $0.dimensions.count == 2 }
        var rng = RandomGenerator(seed: 8)
        var matrix = ImportanceMatrix(datasets: ["synthetic"], chunkCount: 2, chunkSize: 512)
        for info in linear {
            // Log-normal mean squares over columns, as real activations have; blk.6.ffn_down was
            // never reached (count 0: llama-quantize weights its columns 1).
            let sums = (0..<info.dimensions[0]).map { _ in exp(2 * rng.nextNormal()) * 1024 }
            matrix.entries[info.name] = .init(sums: sums, counts: [info.name == "blk.6.ffn_down.weight" ? 0 : 1024])
        }
        try withTemporaryDirectory { dir in
            try matrix.writeGGUF(to: dir + "/imatrix.gguf")
            var arguments = ["--allow-requantize", "--imatrix", dir + "/imatrix.gguf"]
            for o in Self.overrides { arguments += ["--tensor-type", o] }
            arguments += [ImportanceMatrixTests.model, dir + "/out.gguf", "Q8_0", "2"]
            let run = try CommandRunner.run(Self.llamaQuantize, arguments)
            try #require(run.status == 0, "llama-quantize: \(run.stdout.suffix(800)) \(run.stderr.suffix(800))")
            let output = try GGUFFile.read(path: dir + "/out.gguf")
            var typesSeen = Set<GGUFTensorType>(), compared = 0
            for info in output.tensors where info.dimensions.count == 2 && GGUFBlockEncoder.canEncode(info.type) {
                let weights = try source.floatValues(info.name)
                let importance = matrix.importance(for: info.name)
                let ours = try GGUFBlockEncoder.encode(weights, as: info.type, rowLength: info.dimensions[0], importance: importance,
                                                       tensor: info.name, file: "ours")
                #expect(ours == output.rawData(info), "\(info.name) as \(info.type.name) (importance: \(importance != nil))")
                typesSeen.insert(info.type)
                compared += 1
            }
            #expect(typesSeen == Set(GGUFBlockEncoder.encodable), "llama-quantize wrote \(typesSeen.map(\.name).sorted())")
            #expect(compared >= linear.count)
        }
    }
}
