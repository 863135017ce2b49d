import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoModels
import NanoTensor
import TestSupport

/// `GGUFExporter` against gguf-py: what we write, `GGUFReader` reads — every key with its type,
/// every tensor with its type, and its dequantized values equal ours bit for bit — and the
/// names and keys are the ones gguf-py's tables define for the architecture.
@Suite struct GGUFExportTests {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##lo", "world"]
        + (8..<40).map { "w\($0)" }

    static let provenance = Provenance(recipe: "stages:\n  - quantize: {bits: 8}\n", sourceSHA256: String(repeating: "ab", count: 32),
                                       version: "0.0-test", metrics: ["cosine_mean": 0.99])

    /// Width 64 (rows fit Q8_0/Q4_0 blocks) and a feed-forward width of 80, whose rows (ffn_down) do not.
    static func tinyBert(seed: UInt64 = 1) -> BertEncoder {
        var rng = RandomGenerator(seed: seed)
        return BertEncoder(.init(vocabularySize: 40, width: 64, layers: 2, heads: 4, intermediateWidth: 80, maxPositions: 16),
                           pooler: true, rng: &rng)
    }

    static func source(_ model: LoadedModel, vocabulary: [String]? = nil) -> ExportSource {
        ExportSource(model: model, vocabulary: vocabulary, provenance: provenance)
    }

    /// Every tensor gguf-py reads is ours: same names, type, ggml shape, and bits.
    /// `checkTables` also requires every name in gguf-py's `MODEL_TENSORS` and no required key missing.
    static func expectSameTensors(_ path: String, _ python: GGUFPythonView, checkTables: Bool = true,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let file = try GGUFFile.read(path: path)
        #expect(Set(python.tensors.keys) == Set(file.tensors.map(\.name)), sourceLocation: sourceLocation)
        for info in file.tensors {
            guard let p = python.tensors[info.name] else { continue }
            #expect(p.type == info.type.name, "\(info.name)", sourceLocation: sourceLocation)
            #expect(p.ne == info.dimensions, "\(info.name)", sourceLocation: sourceLocation)
            if let bits = p.bits {
                #expect(try file.floatValues(info.name).map(\.bitPattern) == bits, "\(info.name)", sourceLocation: sourceLocation)
            }
        }
        guard checkTables else { return }
        #expect(python.unknown_names.isEmpty, "names outside gguf-py's MODEL_TENSORS: \(python.unknown_names)", sourceLocation: sourceLocation)
        #expect(python.missing_keys.isEmpty, "missing keys: \(python.missing_keys)", sourceLocation: sourceLocation)
    }

    @Test(arguments: GGUFExporter.exportTypes)
    func tinyBertReadsInGGUFPy(type: GGUFTensorType) throws {
        let model = Self.tinyBert()
        try withTemporaryDirectory { folder in
            let path = folder + "/bert.gguf"
            let summary = try GGUFExporter.export(Self.source(.bert(model), vocabulary: Self.vocabulary), to: path, type: type)
            #expect(summary.architecture == "bert")
            let python = try GGUFPythonView.read(path, architecture: "bert")
            try Self.expectSameTensors(path, python)

            // Types: matrices take the requested type, except rows that are not whole blocks
            // (80 under a block type; 64 too under the 256-element K-quants), which are F16.
            let blockType = type.blockSize > 1, fits64 = 64 % type.blockSize == 0
            #expect(python.tensors["token_embd.weight"]?.type == (fits64 ? type.name : "F16"))
            #expect(python.tensors["blk.0.attn_q.weight"]?.type == (fits64 ? type.name : "F16"))
            #expect(python.tensors["blk.1.ffn_up.weight"]?.type == (fits64 ? type.name : "F16"))
            #expect(python.tensors["blk.1.ffn_down.weight"]?.type == (blockType ? "F16" : type.name))
            #expect(summary.notes.contains { $0.contains("ffn_down") } == blockType)
            for name in ["position_embd.weight", "token_types.weight", "token_embd_norm.weight", "blk.0.attn_q.bias",
                         "blk.0.attn_output_norm.bias", "blk.1.layer_output_norm.weight"] {
                #expect(python.tensors[name]?.type == "F32", "\(name)")
            }
            #expect(python.tensors.count == 5 + 2 * 16)   // the pooler is not written
            #expect(python.tensors["blk.0.attn_q.weight"]?.ne == [64, 64] && python.tensors["token_embd.weight"]?.ne == [64, 40])

            // Keys and their types, as gguf-py decodes them.
            let keys = python.keys
            #expect(keys["general.architecture"]?.value == .string("bert"))
            #expect(keys["bert.context_length"]?.types == ["UINT32"] && keys["bert.context_length"]?.value == .number(16))
            #expect(keys["bert.feed_forward_length"]?.value == .number(80) && keys["bert.block_count"]?.value == .number(2))
            #expect(keys["bert.attention.head_count"]?.value == .number(4) && keys["bert.embedding_length"]?.value == .number(64))
            #expect(keys["bert.attention.layer_norm_epsilon"]?.types == ["FLOAT32"])
            #expect(keys["bert.attention.layer_norm_epsilon"]?.value == .number(Double(Float(1e-12))))
            #expect(keys["bert.attention.causal"]?.value == .bool(false) && keys["bert.pooling_type"]?.value == .number(1))
            #expect(keys["tokenizer.ggml.model"]?.value == .string("bert"))
            #expect(keys["tokenizer.ggml.tokens"]?.types == ["ARRAY", "STRING"])
            // llama.cpp's WPM spelling: [X] kept, ##piece → piece, other tokens ▁-prefixed.
            let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{2581}hello", "lo", "\u{2581}world"] + (8..<40).map { "\u{2581}w\($0)" }
            #expect(keys["tokenizer.ggml.tokens"]?.value == .array(tokens.map { .string($0) }))
            #expect(keys["tokenizer.ggml.token_type"]?.value == .array((0..<40).map { .number($0 < 5 ? 3 : 1) }))
            #expect(keys["tokenizer.ggml.bos_token_id"]?.value == .number(2) && keys["tokenizer.ggml.seperator_token_id"]?.value == .number(3))
            #expect(keys["tokenizer.ggml.unknown_token_id"]?.value == .number(1) && keys["tokenizer.ggml.padding_token_id"]?.value == .number(0))
            #expect(keys["tokenizer.ggml.mask_token_id"]?.value == .number(4))
            let ftypes: [GGUFTensorType: Double] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9,
                                                    .q2_K: 10, .q3_K: 11, .q4_K: 14, .q5_K: 16, .q6_K: 18, .iq4_nl: 25]
            #expect(keys["general.file_type"]?.value == .number(try #require(ftypes[type])))
            for (key, value) in Self.provenance.keyValues {
                #expect(keys[key]?.types == ["STRING"] && keys[key]?.value == .string(value), "\(key)")
            }

            // The values are the model's, to the precision of the type.
            let file = try GGUFFile.read(path: path)
            let original = model.layers[0].attention.query.weight.value.scalars
            let stored = try file.floatValues("blk.0.attn_q.weight")
            // Bounds relative to the largest |w|: f16 2⁻¹¹; Q8_0 half a step (1/254) plus the f16 scale;
            // Q4_0 one eighth, at −m when m is the block's extreme (code 16 clamps to 15); the other
            // block types one step of their grid (Q5_0 1/16, Q4_1 2/15, Q5_1 2/31, IQ4_NL the widest
            // level gap 24/127); the K-quants, stored as F16 here (rows of 64), f16's.
            let tolerances: [GGUFTensorType: Float] = [.f32: 0, .f16: 1e-3, .q8_0: 6e-3, .q4_0: 0.13, .q5_0: 0.07,
                                                       .q4_1: 0.14, .q5_1: 0.07, .iq4_nl: 0.2]
            let tolerance = tolerances[type] ?? 1e-3
            let maxAbs = original.map(abs).max()!
            #expect(zip(original, stored).allSatisfy { abs($0 - $1) <= tolerance * maxAbs })
            if type == .f32 { #expect(stored == original) }
        }
    }

    /// The real all-MiniLM-L6-v2 (from `make setup`'s cache) as Q8_0: gguf-py's dequantization of
    /// every tensor equals ours, and the vocabulary and special ids are the checkpoint's.
    @Test func miniLMQ8_0ReadsInGGUFPy() throws {
        let folderPath = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")
        let (model, _) = try ModelLoader.load(path: folderPath)
        let vocabulary = try String(contentsOfFile: folderPath + "/vocab.txt", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        try withTemporaryDirectory { folder in
            let path = folder + "/minilm.gguf", dequantized = folder + "/dequantized.safetensors"
            let summary = try GGUFExporter.export(Self.source(model, vocabulary: vocabulary), to: path, type: .q8_0)
            #expect(summary.notes.allSatisfy { !$0.contains("F16") })   // 384 and 1536 are multiples of 32
            let python = try GGUFPythonView.read(path, architecture: "bert", bits: false, dequantizedTo: dequantized)
            try Self.expectSameTensors(path, python)
            #expect(python.tensors.count == 5 + 6 * 16)
            #expect(python.tensors["blk.5.ffn_up.weight"]?.type == "Q8_0" && python.tensors["blk.5.ffn_up.weight"]?.ne == [384, 1536])
            #expect(python.keys["tokenizer.ggml.bos_token_id"]?.value == .number(101))
            #expect(python.keys["tokenizer.ggml.seperator_token_id"]?.value == .number(102))
            #expect(python.keys["bert.context_length"]?.value == .number(512))
            guard case .array(let tokens)? = python.keys["tokenizer.ggml.tokens"]?.value else { Issue.record("no tokens"); return }
            #expect(tokens.count == 30522 && tokens[101] == .string("[CLS]") && tokens[1012] == .string("\u{2581}."))
            #expect(tokens.contains(.string("s")) && !tokens.contains { $0 == .string("##s") })
            let theirs = try SafetensorsReader.read(path: dequantized)
            let file = try GGUFFile.read(path: path)
            for info in file.tensors {
                let t = try #require(theirs[info.name])
                #expect(t.shape == info.shape, "\(info.name)")
                #expect(t.floatTensor().scalars.map(\.bitPattern) == (try file.floatValues(info.name)).map(\.bitPattern), "\(info.name)")
            }
            // Opened through CheckpointReader, the file is an F32 store with the metadata as text.
            let store = try CheckpointReader.read(path: path)
            #expect(store.format == .gguf && store["token_embd.weight"]?.shape == [30522, 384])
            #expect(store.metadata["general.architecture"] == "bert" && store.metadata["nanoforge.version"] == "0.0-test")
        }
    }

    /// Unsupported families are refused, not mislabelled.
    @Test func mlpAndMixedDecodersAreRefused() throws {
        var rng = RandomGenerator(seed: 2)
        let mlp = MLPClassifier(.init(inputs: 4, hidden: [8], classes: 2), rng: &rng)
        let mixed = GPTDecoder(.init(vocabularySize: 16, contextLength: 8, width: 32, layers: 1, heads: 2, positions: .rotary), rng: &rng)
        for (model, field) in [(LoadedModel.mlp(mlp), "architecture"), (.decoder(mixed), "architecture")] {
            #expect {
                try GGUFExporter.export(Self.source(model), to: "/nonexistent/x.gguf", type: .f32)
            } throws: { error in
                guard case .invalidConfig(_, let f, _) = error as? CheckpointError else { return false }
                return f == field
            }
        }
        #expect(throws: CheckpointError.self) {
            try GGUFExporter.export(Self.source(.bert(Self.tinyBert())), to: "/nonexistent/x.gguf", type: .bf16)
        }
    }
}
