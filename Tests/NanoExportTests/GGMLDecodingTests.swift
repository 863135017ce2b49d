import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor
import TestSupport

/// The packed runtime under a Llama's KV-cache decoding (`GGMLDecoding`) against what
/// `eval --llama-cpp-arithmetic` computes on the same GGUF file (`LlamaCppArithmetic` on the
/// dequantized weights), on files written by nanoforge's own GGUF writer and on SmolLM2:
/// - matrix by matrix on the activations of a real forward pass (each Linear's input as the flag's
///   model sees it, fed to the packed matrix): max |Δ| ≤ `exactBound` · max |y| for the types the
///   flag models exactly (Q4_0, Q5_0, Q8_0, IQ4_NL, Q4_K, Q6_K: float summation order only), and
///   ≤ `minBlocksBound` · max |y| for Q4_1/Q5_1, whose Q8_1 input blocks carry their sum
///   s = d·Σq in half precision in ggml (the flag does not model that rounding of each block's m·s);
/// - end to end, the logits of two implementations of this arithmetic are not bit-comparable: a
///   summation-order difference flips an input code by one step now and then, and with coarse Q8
///   blocks (a block holding a large activation) that step is large. So whole-model logits are
///   held to 10 · `exactBound` on the tiny file with exactly modelled types, the looser
///   `endToEndBound` with Q4_1/Q5_1 matrices, and SmolLM2's greedy tokens must equal the flag's.
@Suite struct GGMLDecodingTests {
    static let exactBound: Float = 1e-5, minBlocksBound: Float = 4e-3, endToEndBound: Float = 3e-2

    static func llama(_ path: String) throws -> LlamaModel {
        try #require(try PackedModel.load(path: path).model.as(LlamaModel.self))
    }

    /// The eval flag's model of llama.cpp on `path`.
    static func modelled(_ path: String) throws -> LlamaModel {
        let m = try llama(path)
        LlamaCppArithmetic.install(on: m, weightTypes: try LlamaCppArithmetic.weightTypes(modelPath: path, layerTypes: [:]))
        return m
    }

    /// Packed decode of `tokens` through a fresh cache, and eval's llama.cpp arithmetic on the same file.
    static func compare(_ path: String, tokens: [Int]) throws -> (packed: Tensor, modelled: Tensor, report: GGMLDecoding.Report) {
        let packed = try llama(path)
        let report = try GGMLDecoding.install(on: packed, file: try GGUFFile.read(path: path))
        let logits = packed.decode(tokens, cache: LlamaKVCache(for: packed, capacity: tokens.count))
        let reference = try modelled(path)(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false)).value
        return (logits, reference.reshaped(logits.shape), report)
    }

    /// max |a − b| / max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let scale = b.scalars.map(abs).max() ?? 1
        return (zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity) / scale
    }

    /// TinyLlamaCodes' model with its types, or with Q4_1 → Q4_0 and Q5_1 → Q5_0 (`minBlocks` false).
    static func tinyCodes(tied: Bool, minBlocks: Bool) throws -> (LlamaModel, [String: GGMLQuantizedTensor]) {
        let (model, codes) = try TinyLlamaCodes.make(tied: tied)
        guard !minBlocks else { return (model, codes) }
        var replaced: [String: GGMLQuantizedTensor] = [:]
        for (layer, q) in codes {
            let type: GGUFTensorType = q.type == .q4_1 ? .q4_0 : q.type == .q5_1 ? .q5_0 : q.type
            replaced[layer] = try GGMLQuantizedTensor.roundToNearest(q.dequantized(), as: type)
        }
        for (name, variable) in model.namedParameters {
            if let q = replaced[String(name.dropLast(".weight".count))], name.hasSuffix(".weight") { variable.value = q.dequantized() }
        }
        return (model, replaced)
    }

    /// Every packed matrix against the flag's model on the inputs a forward pass of `tokens` gives it.
    static func expectMatricesAgree(_ path: String, tokens: [Int]) throws {
        let flag = try modelled(path)
        let packed = try llama(path)
        try GGMLDecoding.install(on: packed, file: try GGUFFile.read(path: path))
        let packedLinears = Dictionary(uniqueKeysWithValues: packed.layers(of: Linear.self).map { ($0.name, $0.layer) })
        let types = try LlamaCppArithmetic.weightTypes(modelPath: path, layerTypes: [:])
        var checked = 0
        for (name, layer) in flag.layers(of: Linear.self) {
            guard let round = layer.inputTransform, let projection = packedLinears[name].flatMap({ packed.decodingProjections[$0] }),
                  let type = types[name + ".weight"] else { continue }
            let w = layer.weight.value
            let bound = type == .q4_1 || type == .q5_1 ? minBlocksBound : exactBound
            layer.inputTransform = { x in
                let rounded = round(x), rows = x.count / w.shape[1]
                let expected = Tensor.linear(rounded.reshaped([rows, w.shape[1]]), weight: w, bias: nil)
                let error = relativeError(projection.project(x.reshaped([rows, w.shape[1]])), expected)
                #expect(error <= bound, "\(path): \(name) (\(type.name)): max |Δ| / max |y| = \(error)")
                checked += 1
                return rounded
            }
        }
        _ = flag(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false))
        #expect(checked == packedLinears.values.filter { packed.decodingProjections[$0] != nil }.count)
    }

    static let tinyTokens = [1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10, 7, 200]

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func tinyFileMatchesLlamaCppArithmetic(tied: Bool, minBlocks: Bool) throws {
        let (model, codes) = try Self.tinyCodes(tied: tied, minBlocks: minBlocks)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            // Uncoded matrices stay F32: the runtime leaves them on Float32 rows and says so.
            try GGUFExporter.export(ExportSource(model: .llama(model), ggmlQuantized: codes, tokenizer: try TinyLlamaCodes.tokenizer(),
                                                 provenance: Provenance(recipe: "test", sourceSHA256: "")), to: path, type: .f32)
            let (packed, modelled, report) = try Self.compare(path, tokens: Self.tinyTokens)
            // Every coded matrix but an untied model's embedding (looked up, not multiplied) runs packed.
            #expect(report.packedCount == codes.count - (tied ? 0 : 1), "\(report)")
            #expect(report.tiedHeadType == (tied ? "Q8_0" : nil))
            #expect(Set(report.dense.map(\.type)) == ["F32"] && report.dense.count == 2, "\(report)")
            let error = Self.relativeError(packed, modelled)
            #expect(error <= (minBlocks ? Self.endToEndBound : 10 * Self.exactBound),
                    "tied \(tied), Q4_1/Q5_1 \(minBlocks): max |Δ logit| / max |logit| = \(error)")
            print("GGMLDecodingTests: tiny tied \(tied), Q4_1/Q5_1 \(minBlocks): logits relative error \(error)")
            try Self.expectMatricesAgree(path, tokens: Self.tinyTokens)
        }
    }

    /// A GGUF whose matrices do not match the model's shapes (a pruned model against its source file) is refused by tensor.
    @Test func shapeMismatchNamesTheTensor() throws {
        let (model, codes) = try TinyLlamaCodes.make(tied: true)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            try GGUFExporter.export(ExportSource(model: .llama(model), ggmlQuantized: codes, provenance: Provenance(recipe: "test", sourceSHA256: "")),
                                    to: path)
            var rng = RandomGenerator(seed: 1)
            var c = TinyLlamaCodes.configuration(tied: true)
            c.feedForwardWidth = 128
            #expect(throws: RuntimeError.self) { try GGMLDecoding.install(on: LlamaModel(c, rng: &rng), file: try GGUFFile.read(path: path)) }
        }
    }

    static let smolLM2 = ".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// SmolLM2-135M as shipped (Q4_1, Q8_0 tied embedding) and re-encoded as Q4_0 by nanoforge's
    /// `GGUFRequantizer`: every matrix against the flag's model on real activations, and 12 greedy
    /// tokens after "The capital of France is" equal to the flag's (the dense engine's are printed).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: smolLM2), "SmolLM2 Q4_1 file absent (scripts/setup.sh provides it)"))
    func smolLM2MatchesLlamaCppArithmetic() throws {
        let tokens = [504, 3575, 282, 4649, 314, 1688, 30, 378, 1116, 1345, 314, 253, 1690, 30, 11, 216]
        let report = try GGMLDecoding.install(on: try Self.llama(Self.smolLM2), file: try GGUFFile.read(path: Self.smolLM2))
        #expect(report.packed == ["Q4_1": 210, "Q8_0": 1] && report.tiedHeadType == "Q8_0" && report.dense.isEmpty, "\(report)")
        try Self.expectMatricesAgree(Self.smolLM2, tokens: tokens)
        try withTemporaryDirectory { dir in
            let path = dir + "/q4_0.gguf"
            try GGUFRequantizer.requantize(input: Self.smolLM2, to: path, type: .q4_0)
            let (packed, modelled, report) = try Self.compare(path, tokens: tokens)
            #expect(report.packed == ["Q4_0": 211] && report.dense.isEmpty, "\(report)")
            print("GGMLDecodingTests: SmolLM2 Q4_0 logits relative error \(Self.relativeError(packed, modelled))")
            try Self.expectMatricesAgree(path, tokens: tokens)

            let file = try GGUFFile.read(path: path)
            let prompt = try ByteLevelBPETokenizer(gguf: file).encode("The capital of France is", allowSpecial: false, addBOS: false)
            let steps = 12
            var sampler = TokenSampler(temperature: 0, topP: 1, seed: 0)
            let fast = try Self.llama(path)
            try GGMLDecoding.install(on: fast, file: file)
            let fastTokens = fast.generate(prompt: prompt, maxTokens: steps, sampler: &sampler)
            let flag = try Self.modelled(path)
            var context = prompt, flagTokens: [Int] = []
            for _ in 0..<steps {
                let logits = flag(context, batch: 1, length: context.count, tape: Tape(recording: false)).value.scalars
                let next = TokenSampler.argmax(logits[(logits.count - flag.configuration.vocabularySize)...])
                flagTokens.append(next)
                context.append(next)
            }
            let denseTokens = try Self.llama(path).generate(prompt: prompt, maxTokens: steps, sampler: &sampler)
            print("GGMLDecodingTests: SmolLM2 Q4_0 greedy: packed \(fastTokens), eval flag \(flagTokens), dense \(denseTokens)")
            #expect(fastTokens == flagTokens)
        }
    }
}
