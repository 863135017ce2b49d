import Foundation
import Testing
import NanoCheckpoint
@testable import NanoExport
import NanoModels
import NanoQuant
import NanoTensor
import TestSupport

/// GGUF export of the codes nanoforge evaluated: a tiny Llama whose layers hold ggml codes of
/// mixed types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q6_K) is written with each layer's
/// bytes as they are, the other matrices in the requested type, under llama.cpp's names and row
/// order, with its tokenizer; nanoforge's GGUF reader and gguf-py read back exactly the codes.
@Suite struct GGUFCodesExportTests {
    /// GGUF name → nanoforge layer, and whether llama.cpp's rows are permuted (q, k).
    static func layer(ofTensor name: String) -> (layer: String, heads: Int?)? {
        if name == "token_embd.weight" { return ("model.embed_tokens", nil) }
        if name == "output.weight" { return ("lm_head", nil) }
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", parts[3] == "weight" else { return nil }
        let i = parts[1]
        switch parts[2] {
        case "attn_q": return ("model.layers.\(i).self_attn.q_proj", 4)
        case "attn_k": return ("model.layers.\(i).self_attn.k_proj", 2)
        case "attn_v": return ("model.layers.\(i).self_attn.v_proj", nil)
        case "attn_output": return ("model.layers.\(i).self_attn.o_proj", nil)
        case "ffn_gate": return ("model.layers.\(i).mlp.gate_proj", nil)
        case "ffn_up": return ("model.layers.\(i).mlp.up_proj", nil)
        case "ffn_down": return ("model.layers.\(i).mlp.down_proj", nil)
        default: return nil
        }
    }

    /// The rows of `q`'s blocks in llama.cpp's interleaved rotary order, written out here:
    /// row h·d + 2i + j of the file is row h·d + j·d/2 + i of the layer.
    static func interleavedBytes(_ q: GGMLQuantizedTensor, heads: Int) -> Data {
        let rowBytes = q.byteCount / q.rows, d = q.rows / heads
        var out = Data()
        for h in 0..<heads {
            for i in 0..<d / 2 {
                for j in 0..<2 {
                    let src = (h * d + j * d / 2 + i) * rowBytes
                    out.append(q.blocks.subdata(in: src..<src + rowBytes))
                }
            }
        }
        return out
    }

    static func source(_ model: LlamaModel, _ codes: [String: GGMLQuantizedTensor]) throws -> ExportSource {
        ExportSource(model: .llama(model), ggmlQuantized: codes, tokenizer: try TinyLlamaCodes.tokenizer(),
                     provenance: GGUFExportTests.provenance)
    }

    @Test(arguments: [false, true])
    func mixedTypesAreWrittenAsTheCodes(tied: Bool) throws {
        let (model, codes) = try TinyLlamaCodes.make(tied: tied)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            let summary = try GGUFExporter.export(try Self.source(model, codes), to: path, type: .q8_0)
            let file = try GGUFFile.read(path: path)
            #expect(summary.architecture == "llama")
            #expect((file.tensorInfo("output.weight") == nil) == tied)
            var coded = 0
            for info in file.tensors {
                let values = try file.floatValues(info.name)
                if let (layer, heads) = Self.layer(ofTensor: info.name), let q = codes[layer] {
                    coded += 1
                    // The file holds the codes' bytes (rows reordered for q and k) in their type…
                    #expect(info.type == q.type, "\(info.name)")
                    #expect(file.rawData(info) == (heads.map { Self.interleavedBytes(q, heads: $0) } ?? q.blocks), "\(info.name)")
                    // …and decodes to the layer's decoded codes, row for row.
                    let expected = heads.map { GGUFExporter.ropeInterleaved(q.dequantized(), heads: $0) } ?? q.dequantized()
                    #expect(values.map(\.bitPattern) == expected.scalars.map(\.bitPattern), "\(info.name)")
                    #expect(summary.fromCodes.contains(info.name))
                } else if info.dimensions.count == 2 {
                    // Matrices without codes take the requested type.
                    #expect(info.type == .q8_0, "\(info.name)")
                    #expect(!summary.fromCodes.contains(info.name))
                } else {
                    #expect(info.type == .f32, "\(info.name)")
                }
                #expect(summary.tensors[info.name] == info.type, "\(info.name)")
            }
            #expect(coded == codes.count)
            // Q8_0 holds the most bytes here (the embedding, v, up).
            #expect(file["general.file_type"] == .uint32(7))
            #expect(file["general.quantization_version"] == .uint32(2))
        }
    }

    /// The tokenizer and architecture keys llama.cpp needs come with the file, and
    /// nanoforge reads the file back as the same model: same tokenizer, same logits.
    @Test func tokenizerAndModelRoundTrip() throws {
        let (model, codes) = try TinyLlamaCodes.make()
        let tokenizer = try TinyLlamaCodes.tokenizer()
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            try GGUFExporter.export(try Self.source(model, codes), to: path, type: .f32)
            let file = try GGUFFile.read(path: path)
            let back = try ByteLevelBPETokenizer(gguf: file)
            #expect(back.tokens == tokenizer.tokens)
            #expect(back.bosID == 1 && back.eosID == 2 && back.specialTokenIDs == [1, 2])
            #expect(back.chatTemplateSource == tokenizer.chatTemplateSource)
            #expect(back.preTokenizer == .smollm)
            #expect(file["llama.attention.head_count_kv"] == .uint32(2))
            #expect(file["llama.rope.freq_base"] == .float32(50_000))
            let loaded = try ModelLoader.load(path: path, as: LlamaModel.self)
            let ids = Array("the tiny llama".utf8).map(Int.init)
            let a = model(ids, batch: 1, length: ids.count, tape: Tape(recording: false)).value
            let b = loaded(ids, batch: 1, length: ids.count, tape: Tape(recording: false)).value
            // Coded weights are their codes, the two matrices without codes F32: the same model.
            #expect(file.tensorInfo("blk.1.ffn_gate.weight")?.type == .f32)
            #expect(b.scalars.map(\.bitPattern) == a.scalars.map(\.bitPattern), "max difference \(maxAbsDifference(b, a))")
        }
    }

    /// gguf-py (`gguf.quants.dequantize`) reads every tensor as the weight nanoforge evaluates,
    /// bit for bit, and finds llama.cpp's names and required keys.
    @Test func ggufPyDequantizesToTheEvaluatedWeights() throws {
        let (model, codes) = try TinyLlamaCodes.make()
        let source = try Self.source(model, codes)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            try GGUFExporter.export(source, to: path, type: .f32)
            let python = try GGUFPythonView.read(path, architecture: "llama")
            try GGUFExportTests.expectSameTensors(path, python)
            let reference = try GGUFExporter.referenceWeights(source, type: .f32)
            #expect(Set(reference.names) == Set(python.tensors.keys))
            for name in reference.names {
                #expect(python.tensors[name]?.bits == (try reference.floatTensor(name)).scalars.map(\.bitPattern), "\(name)")
            }
            #expect(reference.metadata["nanoforge.gguf_types"]?.contains(#""blk.0.ffn_down.weight":"Q4_K codes""#) == true)
        }
    }

    /// Codes that do not decode to the weight nanoforge evaluates, a layer no tensor is written
    /// from, and a stacked tensor coded in part are refused, naming the tensor or layer.
    @Test func inconsistentCodesAreRefused() throws {
        let (model, codes) = try TinyLlamaCodes.make()
        var changed = codes
        changed["model.layers.0.mlp.up_proj"] = try GGMLQuantizedTensor.roundToNearest(model.blocks[0].feedForward.up.weight.value, as: .q4_0)
        #expect(performing: { try GGUFExporter.makeWriter(try Self.source(model, changed)) }, throws: { error in
            guard case .invalidTensor(_, let tensor, let reason) = error as? CheckpointError else { return false }
            return tensor == "blk.0.ffn_up.weight" && reason.contains("decode")
        })
        var stray = codes
        stray["model.layers.9.mlp.up_proj"] = codes["model.layers.0.mlp.up_proj"]
        #expect(performing: { try GGUFExporter.makeWriter(try Self.source(model, stray)) }, throws: { error in
            guard case .invalidConfig(_, let field, _) = error as? CheckpointError else { return false }
            return field == "model.layers.9.mlp.up_proj"
        })
    }

    /// A GPT-2 style decoder stacks q, k and v into one tensor: codes of one type on all three
    /// are stacked, codes on only some are refused.
    @Test func stackedTensorTakesCodesOnlyWhole() throws {
        var rng = RandomGenerator(seed: 5)
        // The defaults: LayerNorm, learned positions, GELU MLP, biases (llama.cpp's gpt2).
        let decoder = GPTDecoder(.init(vocabularySize: 16, contextLength: 8, width: 64, layers: 1, heads: 2), rng: &rng)
        let attention = decoder.blocks[0].attention
        var codes: [String: GGMLQuantizedTensor] = [:]
        for (name, linear) in [("q_proj", attention.query), ("k_proj", attention.key), ("v_proj", attention.value)] {
            let q = try GGMLQuantizedTensor.roundToNearest(linear.weight.value, as: .q8_0)
            linear.weight.value = q.dequantized()
            codes["blocks.0.attn.\(name)"] = q
        }
        let (writer, summary) = try GGUFExporter.makeWriter(ExportSource(model: .decoder(decoder), ggmlQuantized: codes,
                                                                         provenance: GGUFExportTests.provenance))
        #expect(summary.tensors["blk.0.attn_qkv.weight"] == .q8_0 && summary.fromCodes == ["blk.0.attn_qkv.weight"])
        #expect(writer.tensors.first { $0.name == "blk.0.attn_qkv.weight" }?.shape == [192, 64])
        codes["blocks.0.attn.k_proj"] = nil
        #expect(performing: { try GGUFExporter.makeWriter(ExportSource(model: .decoder(decoder), ggmlQuantized: codes,
                                                                       provenance: GGUFExportTests.provenance)) },
                throws: { error in
            guard case .invalidTensor(_, let tensor, let reason) = error as? CheckpointError else { return false }
            return tensor == "blk.0.attn_qkv.weight" && reason.contains("no codes")
        })
    }
}
