import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoModels
import NanoTensor
import TestSupport

/// `GGUFWriter` alone (every metadata type, alignment, validation, atomic writes) and the decoder
/// exports, each read back by gguf-py and by our reader.
@Suite struct GGUFWriterTests {
    static let allTypes: [(String, GGUFValue)] = [
        ("t.u8", .uint8(255)), ("t.i8", .int8(-128)), ("t.u16", .uint16(65535)), ("t.i16", .int16(-32768)),
        ("t.u32", .uint32(.max)), ("t.i32", .int32(.min)), ("t.u64", .uint64(.max)), ("t.i64", .int64(.min)),
        ("t.f32", .float32(-0.1)), ("t.f64", .float64(1e-300)), ("t.bool", .bool(true)),
        ("t.str", .string("ünïcode \"quoted\"\n")), ("t.empty", .string("")),
        ("t.ints", .array(.int64, [.int64(1), .int64(-1)])), ("t.strs", .strings(["x", "yz"])),
        ("t.nested", .array(.array, [.array(.uint8, [.uint8(1)]), .array(.uint8, [])])),
        ("t.emptyarray", .array(.float32, [])),
    ]

    static func sampleWriter(alignment: UInt32? = nil) -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.block_count", .uint32(0))
        if let alignment { w.set("general.alignment", .uint32(alignment)) }
        for (k, v) in allTypes { w.set(k, v) }
        var rng = RandomGenerator(seed: 4)
        w.addTensor("token_embd.weight", rng.normal(shape: [3, 64]), as: .q4_0)
        w.addTensor("output.weight", rng.normal(shape: [3, 64]), as: .q8_0)
        w.addTensor("output_norm.weight", rng.normal(shape: [5]), as: .f32)
        w.addTensor("output_norm.bias", rng.normal(shape: [5]), as: .f16)
        return w
    }

    @Test(arguments: [nil, 64, 1] as [UInt32?])
    func everyValueTypeRoundTrips(alignment: UInt32?) throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/all.gguf"
            try Self.sampleWriter(alignment: alignment).write(to: path)
            let file = try GGUFFile.read(path: path)
            for (k, v) in Self.allTypes { #expect(file[k] == v, "\(k)") }
            #expect(file.alignment == Int(alignment ?? 32))
            #expect(file.tensors.allSatisfy { $0.offset % file.alignment == 0 })
            #expect(file.tensors.map(\.name) == ["token_embd.weight", "output.weight", "output_norm.weight", "output_norm.bias"])
            #expect(file.tensorInfo("output.weight")?.dimensions == [64, 3])
            // gguf-py reads the same keys, types and values (its reader cannot decode nested arrays).
            let python = try GGUFPythonView.read(path, architecture: "llama")
            for (k, v) in Self.allTypes where k != "t.nested" {
                #expect(python.keys[k]?.types.first == v.type.description, "\(k)")
                if case .float32 = v { continue }
                if k == "t.u64" || k == "t.i64" { continue }   // beyond Double's precision in JSON
                #expect(python.keys[k]?.value == JSONish(v), "\(k)")
            }
            #expect(python.keys["t.f32"]?.value == .number(Double(Float(-0.1))))
            try GGUFExportTests.expectSameTensors(path, python, checkTables: false)
        }
    }

    /// A tensor of every block type `GGUFBlockEncoder` encodes: the stored bytes are the encoder's,
    /// our reader and gguf-py dequantize them alike.
    @Test func everyEncodableBlockTypeIsWritten() throws {
        var rng = RandomGenerator(seed: 9)
        let weights = rng.normal(shape: [3, 512])
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        for type in GGUFBlockEncoder.encodable { w.addTensor("w.\(type.name)", weights, as: type) }
        try withTemporaryDirectory { folder in
            let path = folder + "/blocks.gguf"
            try w.write(to: path)
            let file = try GGUFFile.read(path: path)
            for type in GGUFBlockEncoder.encodable {
                let info = try #require(file.tensorInfo("w.\(type.name)"))
                let expected = try GGUFBlockEncoder.encode(weights.scalars, as: type, rowLength: 512, tensor: info.name, file: path)
                #expect(info.type == type && info.dimensions == [512, 3] && file.rawData(info) == expected, "\(type)")
            }
            try GGUFExportTests.expectSameTensors(path, try GGUFPythonView.read(path, architecture: "llama"), checkTables: false)
        }
    }

    @Test func serializationIsDeterministicAndAtomic() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/a.gguf"
            try Self.sampleWriter().write(to: path)
            let first = try Data(contentsOf: URL(fileURLWithPath: path))
            try Self.sampleWriter().write(to: path)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == first)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["a.gguf"])
            // A failing write leaves the previous file as it was.
            var bad = Self.sampleWriter()
            bad.addTensor("output.weight", Tensor(shape: [1], scalars: [0]), as: .f32)
            #expect(throws: CheckpointError.self) { try bad.write(to: path) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == first)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["a.gguf"])
        }
    }

    @Test func invalidInputsAreTypedErrors() throws {
        func expectError(_ w: GGUFWriter, _ check: (CheckpointError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) { try w.serialized(path: "x.gguf") } throws: { check($0 as! CheckpointError) }
        }
        var w = GGUFWriter(); w.set("general.alignment", .uint32(48))
        expectError(w) { if case .invalidConfig(_, "general.alignment", _) = $0 { return true } else { return false } }
        w = GGUFWriter(); w.set("general.alignment", .uint64(64))
        expectError(w) { if case .invalidConfig(_, "general.alignment", _) = $0 { return true } else { return false } }
        w = GGUFWriter(); w.set("k", .array(.int32, [.uint8(1)]))
        expectError(w) { if case .invalidConfig(_, "k", _) = $0 { return true } else { return false } }
        w = GGUFWriter(); w.addTensor("q", Tensor(shape: [2, 48], scalars: .init(repeating: 1, count: 96)), as: .q8_0)
        expectError(w) { if case .invalidTensor(_, "q", let r) = $0 { return r.contains("multiple of 32") } else { return false } }
        w = GGUFWriter(); w.addTensor(String(repeating: "n", count: 64), Tensor(shape: [1], scalars: [1]), as: .f32)
        expectError(w) { if case .invalidTensor = $0 { return true } else { return false } }
        w = GGUFWriter(); w.addTensor("r", Tensor(shape: [1, 1, 1, 1, 1], scalars: [1]), as: .f32)
        expectError(w) { if case .invalidTensor(_, "r", _) = $0 { return true } else { return false } }
        w = GGUFWriter(); w.addTensor("k", Tensor(shape: [32], scalars: .init(repeating: 1, count: 32)), as: GGUFTensorType(name: "Q4_K")!)
        expectError(w) { if case .invalidTensor(_, "k", _) = $0 { return true } else { return false } }
        w = GGUFWriter(); w.addTensor("raw", shape: [2], type: .f32, bytes: Data(count: 7))
        expectError(w) { if case .invalidTensor(_, "raw", let r) = $0 { return r.contains("7 bytes") } else { return false } }
    }

    // MARK: Decoders

    @Test func llamaDecoderExports() throws {
        var rng = RandomGenerator(seed: 9)
        let model = GPTDecoder(.init(vocabularySize: 48, contextLength: 32, width: 64, layers: 2, heads: 4, kvHeads: 2,
                                     feedForwardWidth: 96, feedForward: .swiglu, activation: .silu, norm: .rmsNorm,
                                     positions: .rotary, bias: false), rng: &rng)
        try withTemporaryDirectory { folder in
            let path = folder + "/llama.gguf"
            let summary = try GGUFExporter.export(ExportSource(model: .decoder(model), provenance: GGUFExportTests.provenance), to: path, type: .q8_0)
            #expect(summary.architecture == "llama")
            let python = try GGUFPythonView.read(path, architecture: "llama")
            try GGUFExportTests.expectSameTensors(path, python)
            #expect(python.tensors.count == 3 + 2 * 9)
            #expect(python.tensors["blk.1.ffn_gate.weight"]?.type == "Q8_0" && python.tensors["blk.1.ffn_norm.weight"]?.type == "F32")
            #expect(python.tensors["blk.0.attn_k.weight"]?.ne == [64, 32])
            #expect(python.keys["llama.attention.head_count_kv"]?.value == .number(2))
            #expect(python.keys["llama.rope.dimension_count"]?.value == .number(16))
            #expect(python.keys["llama.attention.layer_norm_rms_epsilon"]?.value == .number(Double(Float(1e-6))))
        }
        // F32: q and k rows are reordered per head from halves to pairs; v is not.
        try withTemporaryDirectory { folder in
            let path = folder + "/llama32.gguf"
            try GGUFExporter.export(ExportSource(model: .decoder(model), provenance: GGUFExportTests.provenance), to: path, type: .f32)
            let store = try CheckpointReader.read(path: path)
            let (d, cols) = (16, 64)
            for (name, original, heads) in [("blk.0.attn_q.weight", model.blocks[0].attention.query.weight.value, 4),
                                            ("blk.0.attn_k.weight", model.blocks[0].attention.key.weight.value, 2)] {
                let stored = try store.floatTensor(name).scalars
                for h in 0..<heads { for i in 0..<(d / 2) { for j in 0..<2 {
                    let dst = (h * d + 2 * i + j) * cols, src = (h * d + j * d / 2 + i) * cols
                    #expect(Array(stored[dst..<(dst + cols)]) == Array(original.scalars[src..<(src + cols)]), "\(name) head \(h) row \(i),\(j)")
                } } }
            }
            #expect(try store.floatTensor("blk.0.attn_v.weight").scalars == model.blocks[0].attention.value.weight.value.scalars)
        }
    }

    @Test func gpt2DecoderExports() throws {
        var rng = RandomGenerator(seed: 10)
        let model = GPTDecoder(.init(vocabularySize: 48, contextLength: 32, width: 64, layers: 2, heads: 4), rng: &rng)
        try withTemporaryDirectory { folder in
            let path = folder + "/gpt2.gguf"
            let summary = try GGUFExporter.export(ExportSource(model: .decoder(model), provenance: GGUFExportTests.provenance), to: path, type: .f16)
            #expect(summary.architecture == "gpt2")
            let python = try GGUFPythonView.read(path, architecture: "gpt2")
            try GGUFExportTests.expectSameTensors(path, python)
            #expect(python.tensors["blk.0.attn_qkv.weight"]?.ne == [64, 192] && python.tensors["blk.0.attn_qkv.bias"]?.ne == [192])
            #expect(python.tensors["position_embd.weight"]?.type == "F32" && python.tensors["output.weight"]?.type == "F16")
            let store = try CheckpointReader.read(path: path)
            let a = model.blocks[1].attention
            #expect(try store.floatTensor("blk.1.attn_qkv.bias").scalars == a.query.bias!.value.scalars + a.key.bias!.value.scalars + a.value.bias!.value.scalars)
        }
    }
}
