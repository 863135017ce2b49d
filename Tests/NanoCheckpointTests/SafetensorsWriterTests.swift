import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

@Suite struct SafetensorsWriterTests {
    /// Write, read back: same dtype, shape and bytes, and the same decoded values.
    @Test(arguments: DType.allCases)
    func roundTripsEveryDType(dtype: DType) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let original = DTypeSamples.tensor(dtype, name: "w")
        let path = folder.file("w.safetensors")
        try SafetensorsWriter.write(TensorStore(tensors: [original]), to: path)
        let back = try #require(try CheckpointReader.read(path: path)["w"])
        #expect(back.dtype == dtype && back.shape == original.shape)
        #expect(back.data == original.data)
        #expect(back.floatTensor().scalars.map(\.bitPattern) == original.floatTensor().scalars.map(\.bitPattern))
        #expect(back.integers() == original.integers())
        if !dtype.isFloatingPoint { #expect(back.integers() == DTypeSamples.integerValues(dtype)) }
    }

    /// F32 and F64 keep every value; F16 and BF16 hold the nearest representable value.
    @Test(arguments: [DType.f32, .f64, .f16, .bf16])
    func floatEncodingDecodesToTheRoundedValue(dtype: DType) {
        let t = DTypeSamples.tensor(dtype)
        let rounded: [Float] = DTypeSamples.floatValues.map {
            switch dtype {
            case .f16: return HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits($0))
            case .bf16: return HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16Bits($0))
            default: return $0
            }
        }
        #expect(t.floatTensor().scalars.map(\.bitPattern) == rounded.map(\.bitPattern))
    }

    @Test func multiTensorStoreKeepsOrderAndMetadata() throws {
        let store = DTypeSamples.store()
        let back = try SafetensorsReader.read(data: try SafetensorsWriter.encode(store), source: "mem")
        #expect(back.names == store.names)
        #expect(back.metadata == store.metadata)
        for t in store.tensors { #expect(back[t.name]?.data == t.data && back[t.name]?.shape == t.shape, "\(t.name)") }
    }

    /// The header is padded with spaces so the data buffer starts at a multiple of 8, whatever the
    /// header's natural length; offsets are contiguous from 0 (larger elements first) and the file
    /// ends with the last tensor.
    @Test(arguments: 0..<8)
    func headerIsPaddedToAMultipleOf8(extraNameLength: Int) throws {
        var store = TensorStore(tensors: [DTypeSamples.tensor(.u8, name: "n" + String(repeating: "x", count: extraNameLength)),
                                          DTypeSamples.tensor(.f32, name: "f")])
        store.metadata = ["k": "v"]
        let data = try SafetensorsWriter.encode(store)
        let n = Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        #expect(n % 8 == 0)
        let header = [UInt8](data[8..<(8 + n)])
        let json = try JSONParser.parse(header)
        let text = String(decoding: header, as: UTF8.self)
        #expect(text.trimmingCharacters(in: .init(charactersIn: " ")) == json.serialized, "only trailing spaces pad")
        #expect(json.members?.first?.key == "__metadata__")
        #expect(json.members?.map(\.key) == ["__metadata__", "n" + String(repeating: "x", count: extraNameLength), "f"])
        #expect(json["f"]?["data_offsets"] == .array([.number(0), .number(64)]))
        #expect(json["n" + String(repeating: "x", count: extraNameLength)]?["data_offsets"] == .array([.number(64), .number(70)]))
        #expect(data.count == 8 + n + 70)
    }

    /// Every tensor starts at a multiple of its element size (from the 8-aligned data buffer), and
    /// the offsets tile the buffer exactly, as the reference reader requires.
    @Test func tensorsAreAlignedAndContiguous() throws {
        let store = DTypeSamples.store()
        let data = try SafetensorsWriter.encode(store)
        let back = try SafetensorsReader.read(data: data, source: "mem")
        #expect(back.names == store.names)
        let buffer = data.startIndex + 8 + Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        #expect((buffer - data.startIndex) % 8 == 0)
        var ranges: [Range<Int>] = []
        for t in back.tensors {
            #expect((t.data.startIndex - buffer) % t.dtype.size == 0, "\(t.name) at \(t.data.startIndex - buffer)")
            ranges.append((t.data.startIndex - buffer)..<(t.data.endIndex - buffer))
        }
        ranges.sort { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
        var end = 0
        for r in ranges {
            #expect(r.lowerBound == end)
            end = r.upperBound
        }
        #expect(buffer + end == data.endIndex)
    }

    @Test func emptyStoreWritesAnEmptyHeader() throws {
        let data = try SafetensorsWriter.encode(TensorStore())
        #expect(data.count == 16)
        #expect(Array(data[8...]) == Array("{}      ".utf8))
        #expect(try SafetensorsReader.read(data: data, source: "empty").count == 0)
    }

    @Test func tensorNamedMetadataIsRefused() throws {
        let store = TensorStore(tensors: [DTypeSamples.tensor(.u8, name: "__metadata__")])
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.encode(store) }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(throws: CheckpointError.self) { try SafetensorsWriter.write(store, to: folder.file("m.safetensors")) }
        #expect(try folder.contents().isEmpty)
    }

    // MARK: Atomic writes

    @Test func atomicWriteReplacesTheFileAndLeavesNoTemporary() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("model.safetensors")
        try SafetensorsWriter.write(TensorStore(tensors: [DTypeSamples.tensor(.f32, name: "old")]), to: path)
        #expect(try folder.contents() == ["model.safetensors"])
        try SafetensorsWriter.write(DTypeSamples.store(), to: path)
        #expect(try folder.contents() == ["model.safetensors"])
        let back = try CheckpointReader.read(path: path)
        #expect(back.names == DTypeSamples.store().names)
        #expect(FileManager.default.contents(atPath: path) == (try SafetensorsWriter.encode(DTypeSamples.store())))
    }

    @Test func writeCreatesMissingFolders() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("a/b/w.safetensors")
        try SafetensorsWriter.write(TensorStore(tensors: [DTypeSamples.tensor(.i8)]), to: path)
        #expect(try CheckpointReader.read(path: path).names == ["t_i8"])
    }

    /// A failed write (the target is a folder) throws a write error naming the path and leaves
    /// neither a temporary file nor a changed target.
    @Test func failedWriteLeavesNoTemporary() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let target = folder.file("taken")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        do {
            try SafetensorsWriter.write(DTypeSamples.store(), to: target)
            Issue.record("writing over a folder succeeded")
        } catch let error as CheckpointError {
            guard case .writeFailed(let file, _) = error else { Issue.record("got \(error)"); return }
            #expect(file == target)
        }
        #expect(try folder.contents() == ["taken"])
    }
}
