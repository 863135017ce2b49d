import Foundation
import Testing
import NanoCheckpoint
import TestSupport

/// `GGUFFile` and `CheckpointReader` on files written by the reference writer, gguf-py's
/// `GGUFWriter`: every metadata type read as typed, every tensor type dequantized bit for bit as
/// gguf-py's `quants.dequantize` does, shapes converted to row-major.
@Suite struct GGUFReaderTests {
    struct PythonTensor: Decodable {
        let shape: [Int]
        let bits: [UInt32]
    }

    /// Writes a file with gguf-py at argv[1] (alignment argv[2]) and prints each tensor's numpy
    /// shape and dequantized Float32 bit patterns.
    static let writerScript = """
    import json, sys
    import numpy as np
    import gguf
    from gguf import quants, GGMLQuantizationType as T, GGUFValueType as V
    path, alignment = sys.argv[1], int(sys.argv[2])
    w = gguf.GGUFWriter(path, arch="test")
    if alignment != 32:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 200); w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000); w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000); w.add_int32("t.i32", -2000000000)
    w.add_uint64("t.u64", 2**63 + 5); w.add_int64("t.i64", -2**62)
    w.add_float32("t.f32", 0.1); w.add_float64("t.f64", -1e300)
    w.add_bool("t.true", True); w.add_bool("t.false", False)
    w.add_string("t.str", "héllo\\n\\"wörld\\"")
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.strs", ["a", "", "ç"])
    w.add_array("t.nested", [[1, 2], [3]])
    w.add_key_value("t.u8s", [1, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.f64s", [0.5, -2.25], V.ARRAY, sub_type=V.FLOAT64)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    out = {}
    def add(name, arr, t=None):
        if t is None:
            w.add_tensor(name, arr)
            deq = arr.astype(np.float32)
        else:
            q = quants.quantize(arr, t)
            w.add_tensor(name, q, raw_dtype=t)
            deq = quants.dequantize(q, t).astype(np.float32)
        out[name] = {"shape": list(deq.shape), "bits": [int(b) for b in deq.view("<u4").ravel()]}
    add("f32", x)
    add("f32.vector", x[0])
    add("f32.cube", rng.standard_normal((2, 3, 4)).astype(np.float32))
    add("f16", x.astype(np.float16))
    add("bf16", x, T.BF16)
    add("q8_0", x, T.Q8_0)
    add("q4_0", x, T.Q4_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    print(json.dumps(out))
    """

    static func pythonFile(in folder: String, alignment: Int = 32) throws -> (path: String, tensors: [String: PythonTensor]) {
        try PythonRunner.require(modules: ["numpy", "gguf"])
        let path = folder + "/python.gguf"
        let output = try PythonRunner.run(writerScript, arguments: [path, String(alignment)])
        return (path, try JSONDecoder().decode([String: PythonTensor].self, from: Data(output.utf8)))
    }

    @Test func readsEveryMetadataTypeAsWritten() throws {
        try withTemporaryDirectory { folder in
            let file = try GGUFFile.read(path: try Self.pythonFile(in: folder).path)
            #expect(file.version == 3)
            #expect(file.alignment == 32)
            let expected: [String: GGUFValue] = [
                "general.architecture": .string("test"),
                "t.u8": .uint8(200), "t.i8": .int8(-100), "t.u16": .uint16(60000), "t.i16": .int16(-30000),
                "t.u32": .uint32(4_000_000_000), "t.i32": .int32(-2_000_000_000),
                "t.u64": .uint64((1 << 63) + 5), "t.i64": .int64(-(1 << 62)),
                "t.f32": .float32(0.1), "t.f64": .float64(-1e300), "t.true": .bool(true), "t.false": .bool(false),
                "t.str": .string("héllo\n\"wörld\""),
                "t.ints": .array(.int32, [.int32(1), .int32(-2), .int32(3)]),
                "t.strs": .strings(["a", "", "ç"]),
                "t.nested": .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [.int32(3)])]),
                "t.u8s": .array(.uint8, [.uint8(1), .uint8(255)]),
                "t.f64s": .array(.float64, [.float64(0.5), .float64(-2.25)]),
            ]
            for (key, value) in expected { #expect(file[key] == value, "\(key)") }
            #expect(Set(file.keys) == Set(expected.keys))
            #expect(file.keys.first == "general.architecture")
        }
    }

    @Test(arguments: [32, 64, 8])
    func readsEveryTensorTypeBitExactly(alignment: Int) throws {
        try withTemporaryDirectory { folder in
            let (path, python) = try Self.pythonFile(in: folder, alignment: alignment)
            let file = try GGUFFile.read(path: path)
            #expect(file.alignment == alignment)
            #expect(Set(file.tensors.map(\.name)) == Set(python.keys))
            #expect(file.tensorInfo("q8_0")?.type == .q8_0 && file.tensorInfo("q4_0")?.type == .q4_0)
            #expect(file.tensorInfo("bf16")?.type == .bf16 && file.tensorInfo("f16")?.type == .f16)
            #expect(file.tensorInfo("f32")?.dimensions == [64, 3])   // GGUF order: fastest first
            let store = try CheckpointReader.read(path: path)
            #expect(store.format == .gguf)
            for (name, p) in python {
                let t = try #require(store[name])
                #expect(t.dtype == .f32)
                #expect(t.shape == p.shape, "\(name)")
                #expect(t.floatTensor().scalars.map(\.bitPattern) == p.bits, "\(name)")
                #expect((file.tensorInfo(name)?.offset ?? 1) % alignment == 0, "\(name) offset")
            }
            // Metadata in the store: strings verbatim, the rest as JSON text.
            #expect(store.metadata["t.str"] == "héllo\n\"wörld\"")
            #expect(store.metadata["t.nested"] == "[[1,2],[3]]")
            #expect(store.metadata["t.strs"] == #"["a","","ç"]"#)
            #expect(store.metadata["t.true"] == "true")
            #expect(store.metadata["t.i64"] == "-4611686018427387904")
            #expect(store.metadata["general.alignment"] == (alignment == 32 ? nil : String(alignment)))
        }
    }

    @Test func typeNamesAndSizesFollowGGML() {
        #expect(GGUFTensorType.q8_0.name == "Q8_0" && GGUFTensorType.q8_0.typeSize == 34)
        #expect(GGUFTensorType.q4_0.name == "Q4_0" && GGUFTensorType.q4_0.typeSize == 18)
        #expect(GGUFTensorType(name: "q4_k")?.rawValue == 12)
        #expect(GGUFTensorType(rawValue: 99).name == "type id 99" && !GGUFTensorType(rawValue: 99).isKnown)
        #expect(GGUFTensorType.q8_0.byteCount(elements: 96, rowLength: 48) == nil)
        #expect(GGUFTensorType.q8_0.byteCount(elements: 128, rowLength: 64) == 4 * 34)
    }
}
