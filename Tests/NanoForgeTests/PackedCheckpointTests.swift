import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// Packed checkpoints: write → read gives the same QuantizedTensors and weights; corrupt files
/// give typed errors naming the file and the tensor or metadata field.
@Suite struct PackedCheckpointTests {
    @Test func fixtureRoundTripsThroughAFile() throws {
        try withTemporaryDirectory { dir in
            let written = try PackedFixture.write(into: dir)
            let loaded = try PackedModel.load(path: written.path)
            #expect(loaded.quantized == written.quantized)
            guard let mlp = loaded.model.as(MLPClassifier.self) else { Issue.record("not an MLP"); return }
            for (i, layer) in mlp.layers.enumerated() {
                let q = try #require(written.quantized["layers.\(i)"])
                #expect(PackedFixture.bits(layer.weight.value) == PackedFixture.bits(q.dequantized()), "layers.\(i)")
                #expect(PackedFixture.bits(layer.bias!.value) == PackedFixture.bits(written.model.layers[i].bias!.value))
            }
        }
    }

    @Test func storedTensorsHaveTheDocumentedDTypesAndShapes() throws {
        try withTemporaryDirectory { dir in
            let written = try PackedFixture.write(into: dir)
            let store = try SafetensorsReader.read(path: written.path)
            func entry(_ name: String) -> String? { store[name].map { "\($0.dtype.rawValue) \($0.shape)" } }
            for i in 0..<4 { #expect(store["layers.\(i).weight"] == nil) }
            #expect(entry("layers.0.weight.qweight") == "I8 [64, 64]")
            #expect(entry("layers.0.weight.scales") == "F32 [64]")
            #expect(entry("layers.0.weight.zero_points") == nil)
            #expect(entry("layers.1.weight.qweight") == "U8 [32, 32]")
            #expect(entry("layers.1.weight.scales") == "F16 [32, 2]")
            #expect(entry("layers.2.weight.qweight") == "U8 [30, 16]")
            #expect(entry("layers.2.weight.zero_points") == "U8 [15]")      // 30 nibbles
            #expect(entry("layers.3.weight.qweight") == "U8 [45]")          // 6 · 30 codes of 2 bits
            #expect(entry("layers.3.weight.scales") == "F16 [1]")
            #expect(entry("layers.3.weight.zero_points") == "U8 [1]")
            #expect(entry("layers.0.bias") == "F32 [64]")
            // Nibble order: the first code of layers.1 is the low nibble of its first byte.
            let codes = try #require(written.quantized["layers.1"]).codes()
            let firstByte = try #require(store["layers.1.weight.qweight"]).data.first!
            #expect(Int32(firstByte & 0x0F) == codes[0] & 0x0F && Int32(firstByte >> 4) == codes[1] & 0x0F)
            let layers = try PackedLayer.layers(in: store)
            #expect(layers.map(\.name) == ["layers.0", "layers.1", "layers.2", "layers.3"])
            #expect(layers[1].scheme == QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)))
            #expect(PackedCheckpoint.parameterCount(of: store, layers: layers) == written.model.parameterCount)
        }
    }

    static let schemes: [(QuantizationScheme, ScaleFormat, [Int])] = [
        (QuantizationScheme(bits: 8, symmetric: false, granularity: .group(16)), .float16, [12, 64]),
        (QuantizationScheme(bits: 7, symmetric: true, granularity: .tensor), .float32, [5, 7]),
        (QuantizationScheme(bits: 5, symmetric: false, granularity: .channel), .float16, [9, 10]),
        (QuantizationScheme(bits: 4, symmetric: false, granularity: .group(8)), .float16, [6, 24]),
        (QuantizationScheme(bits: 3, symmetric: true, granularity: .group(4)), .float32, [7, 12]),
        (QuantizationScheme(bits: 3, symmetric: false, granularity: .channel), .float32, [5, 7]),
        (QuantizationScheme(bits: 2, symmetric: true, granularity: .channel), .float16, [3, 10]),
        (QuantizationScheme(bits: 2, symmetric: false, granularity: .group(4)), .float32, [4, 12]),
    ]

    @Test(arguments: 0..<schemes.count)
    func schemeRoundTripsThroughSafetensorsBytes(index: Int) throws {
        let (scheme, format, shape) = Self.schemes[index]
        var rng = RandomGenerator(seed: UInt64(index + 1))
        let weight = rng.normal(shape: shape)
        let q = try RTN.quantize(weight, scheme: scheme, scaleFormat: format)
        let bias = rng.normal(shape: [shape[0]])
        let store = try PackedCheckpoint.pack(parameters: [("l.weight", weight), ("l.bias", bias)], quantized: ["l": q],
                                              metadata: ["other": "kept"], file: "mem")
        let bytes = try SafetensorsWriter.encode(store)
        let (dense, quantized) = try PackedCheckpoint.unpack(try SafetensorsReader.read(data: bytes, source: "mem"))
        #expect(quantized == ["l": q], "\(scheme)")
        #expect(dense.names == ["l.weight", "l.bias"] || dense.names == ["l.bias", "l.weight"])
        #expect(PackedFixture.bits(try dense.floatTensor("l.weight")) == PackedFixture.bits(q.dequantized()))
        #expect(PackedFixture.bits(try dense.floatTensor("l.bias")) == PackedFixture.bits(bias))
        #expect(dense.metadata["other"] == "kept")
    }

    @Test func plainCheckpointLoadsWithNoQuantizedLayers() throws {
        try withTemporaryDirectory { dir in
            let mlp = try PackedFixture.make().model
            let store = TensorStore(tensors: mlp.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) },
                                    metadata: ["nanoforge.config": ModelSpec.mlp(PackedFixture.configuration).nativeJSON.serialized])
            try SafetensorsWriter.write(store, to: dir + "/model.safetensors")
            let loaded = try PackedModel.load(path: dir)
            #expect(loaded.quantized.isEmpty)
            guard let back = loaded.model.as(MLPClassifier.self) else { Issue.record("not an MLP"); return }
            #expect(PackedFixture.bits(back.layers[2].weight.value) == PackedFixture.bits(mlp.layers[2].weight.value))
        }
    }

    // MARK: Corrupt files

    /// The fixture's store with tensors dropped or replaced and metadata rewritten.
    static func corrupted(drop: Set<String> = [], replace: [StoredTensor] = [], metadata: ((String) -> String)? = nil) throws -> TensorStore {
        let store = try PackedFixture.make().store
        var tensors = store.tensors.filter { !drop.contains($0.name) }
        for t in replace {
            if let i = tensors.firstIndex(where: { $0.name == t.name }) { tensors[i] = t } else { tensors.append(t) }
        }
        var meta = store.metadata
        if let metadata { meta[PackedLayer.metadataKey] = metadata(meta[PackedLayer.metadataKey]!) }
        return TensorStore(tensors: tensors, metadata: meta)
    }

    /// Writes `store`, loads it, and returns the CheckpointError (recording an issue if none).
    static func loadError(_ store: TensorStore, in dir: String) throws -> (path: String, error: CheckpointError?) {
        let path = dir + "/model.safetensors"
        try SafetensorsWriter.write(store, to: path)
        do {
            _ = try PackedModel.load(path: dir)
            Issue.record("loaded a corrupt packed file")
            return (path, nil)
        } catch let e as CheckpointError {
            return (path, e)
        }
    }

    @Test func missingScalesNameTheTensor() throws {
        try withTemporaryDirectory { dir in
            let (path, error) = try Self.loadError(try Self.corrupted(drop: ["layers.1.weight.scales"]), in: dir)
            #expect(error == .missingTensor(file: path, tensor: "layers.1.weight.scales"))
        }
    }

    @Test func qweightOneByteShortNamesTheTensorAndByteCount() throws {
        try withTemporaryDirectory { dir in
            let short = StoredTensor(name: "layers.1.weight.qweight", dtype: .u8, shape: [1023], data: Data(count: 1023))
            let (path, error) = try Self.loadError(try Self.corrupted(replace: [short]), in: dir)
            guard case .invalidTensor(let file, let tensor, let reason) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(file == path && tensor == "layers.1.weight.qweight")
            #expect(reason.contains("1023 bytes") && reason.contains("1024"), "\(reason)")
        }
    }

    @Test func wrongScaleCountNamesTheTensor() throws {
        try withTemporaryDirectory { dir in
            let scales = StoredTensor.encoding(Tensor(shape: [63], scalars: Array(repeating: 1, count: 63)), name: "layers.0.weight.scales")
            let (path, error) = try Self.loadError(try Self.corrupted(replace: [scales]), in: dir)
            guard case .invalidTensor(let file, let tensor, let reason) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(file == path && tensor == "layers.0.weight.scales" && reason.contains("252 bytes"), "\(reason)")
        }
    }

    @Test func metadataNamingAnUnknownLayerNamesItsMissingCodes() throws {
        try withTemporaryDirectory { dir in
            let extra = #"{"layers.9":{"shape":[8,8],"bits":8,"symmetric":true,"granularity":"channel","scale_format":"float32"},"#
            let store = try Self.corrupted { extra + $0.dropFirst() }
            let (path, error) = try Self.loadError(store, in: dir)
            #expect(error == .missingTensor(file: path, tensor: "layers.9.weight.qweight"))
        }
    }

    @Test func packedLayerTheModelLacksIsAnUnexpectedTensor() throws {
        try withTemporaryDirectory { dir in
            // layers.3's companions and metadata entry copied to a layers.7 the MLP does not have.
            let made = try PackedFixture.make().store
            let copies = made.tensors.filter { $0.name.hasPrefix("layers.3.weight.") }.map { t in
                StoredTensor(name: t.name.replacingOccurrences(of: "layers.3.", with: "layers.7."), dtype: t.dtype, shape: t.shape, data: t.data)
            }
            let description = try #require(PackedLayer.layers(in: made).first { $0.name == "layers.3" })
            let layers = try PackedLayer.layers(in: made) + [PackedLayer(name: "layers.7", shape: description.shape, scheme: description.scheme,
                                                                         scaleFormat: description.scaleFormat)]
            var meta = made.metadata
            meta[PackedLayer.metadataKey] = PackedLayer.metadataValue(layers)
            let (path, error) = try Self.loadError(TensorStore(tensors: made.tensors + copies, metadata: meta), in: dir)
            #expect(error == .unexpectedTensor(file: path, tensor: "layers.7.weight"))
        }
    }

    @Test func bitsNineNamesTheField() throws {
        try withTemporaryDirectory { dir in
            let store = try Self.corrupted { $0.replacingOccurrences(of: #""layers.1":{"shape":[32,64],"bits":4"#, with: #""layers.1":{"shape":[32,64],"bits":9"#) }
            let (path, error) = try Self.loadError(store, in: dir)
            guard case .invalidConfig(let file, let field, let reason) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(file == path && field == "nanoforge.quantization.layers.1.bits" && reason.contains("9"), "\(reason)")
        }
    }

    static let fieldCorruptions: [(from: String, to: String, field: String)] = [
        (#""granularity":"group","group_size":32"#, #""granularity":"block","group_size":32"#, "granularity"),
        (#""group_size":32"#, #""group_size":24"#, "group_size"),                 // does not divide 64 columns
        (#""scale_format":"float16"}"#, #""scale_format":"bfloat16"}"#, "scale_format"),
        (#""shape":[32,64]"#, #""shape":[32]"#, "shape"),
        (#""shape":[32,64],"bits":4,"symmetric":true"#, #""shape":[32,64],"bits":4,"symmetric":"yes""#, "symmetric"),
    ]

    @Test(arguments: 0..<fieldCorruptions.count)
    func malformedLayerFieldIsNamed(index: Int) throws {
        let (from, to, field) = Self.fieldCorruptions[index]
        let store = try Self.corrupted { text in
            // Only layers.1 (the int4 group-32 F16 layer) is edited.
            let start = text.range(of: #""layers.1":"#)!.upperBound
            let end = text.range(of: #""layers.2":"#)!.lowerBound
            return String(text[..<start]) + text[start..<end].replacingOccurrences(of: from, with: to) + String(text[end...])
        }
        #expect(store.metadata[PackedLayer.metadataKey] != (try PackedFixture.make().store.metadata[PackedLayer.metadataKey]))
        #expect(performing: { _ = try PackedCheckpoint.unpack(store) }, throws: { error in
            guard case .invalidConfig(_, let named, _) = error as? CheckpointError else { return false }
            return named == "nanoforge.quantization.layers.1." + field
        })
    }

    @Test func badJSONNamesTheMetadataKey() throws {
        try withTemporaryDirectory { dir in
            let (path, error) = try Self.loadError(try Self.corrupted { String($0.dropLast()) }, in: dir)
            guard case .invalidConfig(let file, let field, let reason) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(file == path && field == "nanoforge.quantization" && reason.contains("invalid JSON"), "\(reason)")
        }
    }

    @Test func strayCompanionAndDenseBesidePackedAreRejected() throws {
        try withTemporaryDirectory { dir in
            let stray = StoredTensor(name: "layers.5.weight.scales", dtype: .f32, shape: [1], data: Data(count: 4))
            let (path, error) = try Self.loadError(try Self.corrupted(replace: [stray]), in: dir)
            guard case .invalidTensor(let file, let tensor, _) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(file == path && tensor == "layers.5.weight.scales")
            let dense = StoredTensor.encoding(Tensor(shape: [32, 64], scalars: Array(repeating: 0, count: 2048)), name: "layers.1.weight")
            let (_, second) = try Self.loadError(try Self.corrupted(replace: [dense]), in: dir)
            guard case .invalidTensor(_, let denseName, _) = second else { Issue.record("\(String(describing: second))"); return }
            #expect(denseName == "layers.1.weight")
        }
    }
}
