import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoModels
import NanoQuant
import NanoTensor
import TestSupport

/// ggml codes in a nanoforge output folder (`GGMLCheckpoint`): saved and loaded back they are the
/// same bytes and decode to the same weights, so `eval` and `export --format gguf` of the folder
/// use what the pipeline evaluated; a stored tensor that lies about its blocks is refused with an
/// error naming the file and the tensor or metadata field.
@Suite struct GGMLCheckpointTests {
    @Test func codesRoundTripThroughAnOutputFolder() throws {
        let (model, codes) = try TinyLlamaCodes.make()
        let tokenizer = try TinyLlamaCodes.tokenizer()
        try withTemporaryDirectory { dir in
            let folder = dir + "/out"
            try TinyLlamaCodes.writeFolder(folder, model: model, codes: codes, tokenizer: tokenizer)
            let loaded = try PackedModel.load(path: folder)
            #expect(loaded.ggmlQuantized == codes)
            #expect(loaded.quantized.isEmpty)
            let stored = try SafetensorsReader.read(path: folder + "/model.safetensors")
            #expect(stored["model.layers.0.mlp.down_proj.weight.ggml"]?.shape == [64, 144])   // 256 columns: one Q4_K block of 144 bytes
            #expect(stored["model.layers.0.mlp.down_proj.weight"] == nil)
            let parameters = Dictionary(uniqueKeysWithValues: try #require(loaded.model.as(LlamaModel.self)).namedParameters.map { ($0.name, $0.variable.value) })
            for (name, original) in model.namedParameters {
                // Every weight, coded or not, is what the pipeline held (coded ones: their decoded codes).
                #expect(parameters[name]?.scalars.map(\.bitPattern) == original.value.scalars.map(\.bitPattern), "\(name)")
            }
            for (layer, q) in codes {
                #expect(parameters[layer + ".weight"]?.scalars.map(\.bitPattern) == q.dequantized().scalars.map(\.bitPattern), "\(layer)")
            }

            // The folder exports to the same GGUF bytes as the model in memory.
            let fromFolder = dir + "/folder.gguf", fromMemory = dir + "/memory.gguf"
            try ModelExporter.export(path: folder, format: .gguf, to: fromFolder)
            let (source, _) = try ModelExporter.source(path: folder)
            #expect(source.tokenizer?.tokens == tokenizer.tokens)
            try GGUFExporter.export(ExportSource(model: .llama(model), ggmlQuantized: codes, tokenizer: tokenizer, provenance: source.provenance),
                                    to: fromMemory)
            #expect(try Data(contentsOf: URL(fileURLWithPath: fromFolder)) == Data(contentsOf: URL(fileURLWithPath: fromMemory)))
        }
    }

    static let layer = "model.layers.0.mlp.down_proj"
    static let tensor = layer + ".weight.ggml"

    /// How each corruption edits the store, and what the error must name.
    enum Expected { case tensor(String, reason: String), field(String), missing(String) }
    static let corruptions: [(name: String, edit: (inout TensorStore) -> Void, expected: Expected)] = [
        ("truncated blocks", { store in
            let t = store[tensor]!
            store.insert(StoredTensor(name: tensor, dtype: .u8, shape: [64, 140], data: t.data.prefix(64 * 140)))
        }, .tensor(tensor, reason: "holds 8960 bytes, but Q4_K blocks of a [64, 256] weight need 9216")),
        ("type that lies about the bytes", { store in
            store.metadata[GGMLCheckpoint.metadataKey] = store.metadata[GGMLCheckpoint.metadataKey]!
                .replacingOccurrences(of: #""\#(layer)":{"shape":[64,256],"type":"Q4_K"}"#, with: #""\#(layer)":{"shape":[64,256],"type":"Q6_K"}"#)
        }, .tensor(tensor, reason: "need 13440")),
        ("shape that lies about the rows", { store in
            store.metadata[GGMLCheckpoint.metadataKey] = store.metadata[GGMLCheckpoint.metadataKey]!
                .replacingOccurrences(of: #""\#(layer)":{"shape":[64,256]"#, with: #""\#(layer)":{"shape":[32,512]"#)
        }, .tensor(tensor, reason: "")),
        ("unknown type", { store in
            store.metadata[GGMLCheckpoint.metadataKey] = store.metadata[GGMLCheckpoint.metadataKey]!
                .replacingOccurrences(of: #""type":"Q4_K""#, with: #""type":"Q9_9""#)
        }, .field("nanoforge.ggml.\(layer).type")),
        ("rows that are not whole blocks", { store in
            store.metadata[GGMLCheckpoint.metadataKey] = store.metadata[GGMLCheckpoint.metadataKey]!
                .replacingOccurrences(of: #""model.embed_tokens":{"shape":[256,64],"type":"Q8_0"}"#,
                                      with: #""model.embed_tokens":{"shape":[256,64],"type":"Q4_K"}"#)
        }, .field("nanoforge.ggml.model.embed_tokens.type")),
        ("wrong dtype", { store in
            let t = store[tensor]!
            store.insert(StoredTensor(name: tensor, dtype: .i8, shape: t.shape, data: t.data))
        }, .tensor(tensor, reason: "dtype I8")),
        ("missing blocks", { store in
            store = TensorStore(tensors: store.tensors.filter { $0.name != tensor }, metadata: store.metadata, source: store.source, format: store.format)
        }, .missing(tensor)),
        ("blocks without an entry", { store in
            store.insert(StoredTensor(name: "model.extra.weight.ggml", dtype: .u8, shape: [1, 34], data: Data(count: 34)))
        }, .tensor("model.extra.weight.ggml", reason: "no entry")),
        ("dense weight beside the blocks", { store in
            store.insert(StoredTensor.encoding(Tensor(shape: [64, 256], scalars: [Float](repeating: 0, count: 64 * 256)), name: layer + ".weight"))
        }, .tensor(layer + ".weight", reason: "stored dense")),
    ]

    @Test(arguments: 0..<corruptions.count)
    func corruptCodesAreNamed(index: Int) throws {
        let (name, edit, expected) = Self.corruptions[index]
        let (model, codes) = try TinyLlamaCodes.make()
        try withTemporaryDirectory { dir in
            let folder = dir + "/out", weights = folder + "/model.safetensors"
            try TinyLlamaCodes.writeFolder(folder, model: model, codes: codes, tokenizer: try TinyLlamaCodes.tokenizer())
            var store = try SafetensorsReader.read(path: weights)
            edit(&store)
            try SafetensorsWriter.write(store, to: weights)
            var caught: CheckpointError?
            do { _ = try PackedModel.load(path: folder) } catch { caught = error as? CheckpointError }
            let error = try #require(caught, "\(name): no CheckpointError")
            switch (expected, error) {
            case (.tensor(let t, let reason), .invalidTensor(let file, let tensor, let found)):
                #expect(file == weights && tensor == t && found.contains(reason), "\(name): \(error)")
            case (.tensor(let t, let reason), .shapeMismatch(let file, let tensor, _, _)):
                #expect(file == weights && tensor == t && reason.isEmpty, "\(name): \(error)")
            case (.field(let f), .invalidConfig(let file, let field, _)):
                #expect(file == weights && field == f, "\(name): \(error)")
            case (.missing(let t), .missingTensor(let file, let tensor)):
                #expect(file == weights && tensor == t, "\(name): \(error)")
            default:
                Issue.record("\(name): unexpected \(error)")
            }
        }
    }
}
