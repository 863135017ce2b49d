import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// The reader against golden files written by the Python `safetensors` package
/// (scripts/fixtures/make_safetensors_fixtures.py): every dtype, metadata, and format detection.
@Suite struct SafetensorsReaderTests {
    @Test(arguments: SafetensorsFixtures.files)
    func fixtureDecodesExactly(file: String) throws {
        let expected = try #require(try SafetensorsFixtures.expected()[file], "\(file) is not in expected.json")
        let path = SafetensorsFixtures.path(file)
        let store = try SafetensorsReader.read(path: path)
        #expect(store.format == .safetensors)
        #expect(store.source == path)
        expectStore(store, matches: expected)
    }

    @Test func expectedJSONCoversEveryFixture() throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: SafetensorsFixtures.folder).filter { $0.hasSuffix(".safetensors") }
        #expect(Set(onDisk) == Set(try SafetensorsFixtures.expected().keys))
        #expect(Set(onDisk) == Set(SafetensorsFixtures.files))
    }

    /// Every dtype nanoforge reads has a golden file, F64 aside (the round-trip and interop tests cover it).
    @Test func fixturesCoverEveryDType() throws {
        let dtypes = Set(try SafetensorsFixtures.expected().values.flatMap { $0.tensors.values.map(\.dtype) })
        #expect(dtypes == Set(DType.allCases.map(\.rawValue)).subtracting(["F64"]))
    }

    @Test func metadataHoldsTheNativeConfigAsJSONText() throws {
        let store = try SafetensorsReader.read(path: SafetensorsFixtures.path("multi.safetensors"))
        #expect(store.metadata["note"] == "µ-unicode ✓")
        let config = try #require(store.metadata["nanoforge.config"])
        let json = try JSONParser.parse(Array(config.utf8))
        #expect(json["architecture"]?.string == "mlp_classifier")
        #expect(json["config"]?["hidden"] == .array([.number(2)]))
    }

    /// Tensors keep the header's order (the library sorts by alignment, then name), a 0-d tensor
    /// holds one element, and an empty tensor none.
    @Test func multiTensorFileShapesAndOrder() throws {
        let store = try SafetensorsReader.read(path: SafetensorsFixtures.path("multi.safetensors"))
        #expect(store.names == ["token_ids", "empty", "layer.weight", "step", "layer.bias"])
        let step = try #require(store["step"])
        #expect(step.shape == [] && step.elementCount == 1 && step.integers() == [42])
        let empty = try #require(store["empty"])
        #expect(empty.shape == [0, 3] && empty.byteCount == 0 && empty.floatTensor().scalars.isEmpty)
        #expect(store.parameterCount == 3 + 0 + 6 + 1 + 2)
    }

    /// Tensor bytes are slices of the one mapped buffer, not copies.
    @Test func tensorsAreSlicesOfTheFileData() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: SafetensorsFixtures.path("multi.safetensors")))
        let store = try SafetensorsReader.read(data: data, source: "multi")
        for t in store.tensors {
            #expect(t.data.startIndex >= data.startIndex + 8 && t.data.endIndex <= data.endIndex, "\(t.name)")
            #expect(t.data == data[t.data.startIndex..<t.data.endIndex])
        }
    }

    /// `integers()` on float data truncates toward zero and saturates; NaN gives 0 instead of trapping.
    @Test func integersOfFloatsSaturate() throws {
        let store = try SafetensorsReader.read(path: SafetensorsFixtures.path("f32.safetensors"))
        let values = try #require(store["values"]).integers()
        #expect(Array(values.prefix(13)) == [0, 0, 1, -2, 0, .max, .min, 0, 0, 0, .max, .min, 0])
        let f64 = StoredTensor.encoding(Tensor(shape: [4], scalars: [-0x1p63, 0x1p62, -7.9, .nan]), name: "d", as: .f64)
        #expect(f64.integers() == [.min, 1 << 62, -7, 0])
    }

    @Test func boolBytesDecodeAsZeroOrOne() {
        let t = StoredTensor(name: "b", dtype: .bool, shape: [4], data: Data([0, 1, 2, 255]))
        #expect(t.integers() == [0, 1, 1, 1])
        #expect(t.floatTensor().scalars == [0, 1, 1, 1])
    }

    // MARK: Format detection

    @Test(arguments: SafetensorsFixtures.files)
    func detectsSafetensorsByItsLeadingBytes(file: String) throws {
        let head = [UInt8](try Data(contentsOf: URL(fileURLWithPath: SafetensorsFixtures.path(file))).prefix(16))
        #expect(try CheckpointFormat.detect(head, file: file) == .safetensors)
    }

    @Test func detectsOtherSignaturesAndRejectsText() throws {
        let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try CheckpointFormat.detect(hdf5, file: "x") == .hdf5)
        #expect(try CheckpointFormat.detect(Array("GGUF\u{3}\0\0\0\0\0\0\0".utf8), file: "x") == .gguf)
        #expect(throws: CheckpointError.self) { try CheckpointFormat.detect(Array("hello, world, 123".utf8), file: "x") }
        #expect(throws: CheckpointError.unknownFormat(file: "x", reason: "the file is empty")) {
            try CheckpointFormat.detect([], file: "x")
        }
    }

    /// The extension does not matter: a safetensors file named `.h5` is read as safetensors.
    @Test func safetensorsRenamedH5IsStillSafetensors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let renamed = folder.file("weights.h5")
        try FileManager.default.copyItem(atPath: SafetensorsFixtures.path("multi.safetensors"), toPath: renamed)
        let store = try CheckpointReader.read(path: renamed)
        #expect(store.format == .safetensors)
        expectStore(store, matches: try #require(try SafetensorsFixtures.expected()["multi.safetensors"]))
    }

    /// Format detection turns away a JSON-array header (byte 8 is not '{'); the reader itself,
    /// given the same bytes, names the real problem.
    @Test func arrayHeaderIsNotAnObject() throws {
        let path = SafetensorsFixtures.corruptFolder + "/header-array.safetensors"
        #expect(throws: CheckpointError.malformedHeader(file: path, reason: "the header is not a JSON object")) {
            try SafetensorsReader.read(path: path)
        }
    }

    @Test func missingFileAndFolderAreUnreadable() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(throws: CheckpointError.unreadable(file: folder.file("none.safetensors"), reason: "no such file")) {
            try CheckpointReader.read(path: folder.file("none.safetensors"))
        }
        #expect(throws: CheckpointError.unreadable(file: folder.path, reason: "is a folder, not a file")) {
            try CheckpointReader.read(path: folder.path)
        }
        #expect(throws: CheckpointError.self) { try SafetensorsReader.read(path: folder.file("none.safetensors")) }
    }

    /// Padding after the header object, gaps between tensors and bytes after the last one are
    /// tolerated (the reference library is stricter about gaps; nanoforge only needs them in bounds).
    @Test func toleratesPaddingAndGaps() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}   "#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: [9, 9, 9, 9, 7, 8, 9, 9])
        let store = try SafetensorsReader.read(data: data, source: "gaps")
        #expect(store["a"]?.integers() == [7, 8])
    }
}
