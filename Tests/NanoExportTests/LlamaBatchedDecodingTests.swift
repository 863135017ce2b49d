import Foundation
import Testing
import NanoCheckpoint
import NanoExport
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor
import TestSupport

/// `LlamaModel.decodeStep` (several sequences, one token each, in one pass) against decoding each
/// sequence alone: bit-identical logits on the packed runtime (every block type with a kernel,
/// tied and untied heads, sequences at different positions), close on Float32 weights; and the
/// caches end as the single-sequence ones do.
@Suite struct LlamaBatchedDecodingTests {
    static let prompts = [[1, 72, 101, 108, 108, 111], [1, 87], [1, 7, 200, 33, 10, 44, 90, 91, 92], [5], [1, 60, 61]]

    /// Prefill each prompt, then `steps` greedy tokens, either batched or one sequence at a time;
    /// the logits of every step.
    static func run(_ model: LlamaModel, batched: Bool, steps: Int) -> [[Float]] {
        let caches = prompts.map { LlamaKVCache(for: model, capacity: $0.count + steps) }
        var next = zip(prompts, caches).map { prompt, cache in TokenSampler.argmax(model.decode(prompt, cache: cache, lastPositionOnly: true).scalars[...]) }
        var out: [[Float]] = []
        let vocabulary = model.configuration.vocabularySize
        for _ in 0..<steps {
            let logits = batched ? model.decodeStep(next, caches: caches).scalars
                                 : zip(next, caches).flatMap { model.decode([$0], cache: $1).scalars }
            out.append(logits)
            next = (0..<prompts.count).map { TokenSampler.argmax(logits[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
        }
        #expect(zip(caches, prompts).allSatisfy { $0.count == $1.count + steps })
        return out
    }

    @Test(arguments: [false, true])
    func packedRuntimeBatchesBitForBit(tied: Bool) throws {
        let (model, codes) = try TinyLlamaCodes.make(tied: tied)
        try withTemporaryDirectory { dir in
            let path = dir + "/tiny.gguf"
            try GGUFExporter.export(ExportSource(model: .llama(model), ggmlQuantized: codes, tokenizer: try TinyLlamaCodes.tokenizer(),
                                                 provenance: Provenance(recipe: "test", sourceSHA256: "")), to: path, type: .f32)
            let (packed, _) = try GGMLDecoding.loadModel(file: try GGUFFile.read(path: path))
            let together = Self.run(packed, batched: true, steps: 4), alone = Self.run(packed, batched: false, steps: 4)
            #expect(together == alone, "tied \(tied): batched logits differ from one-at-a-time")
        }
    }

    @Test func float32WeightsBatchClosely() throws {
        var rng = RandomGenerator(seed: 3)
        let model = LlamaModel(TinyLlamaCodes.configuration(tied: false), rng: &rng)
        let together = Self.run(model, batched: true, steps: 3), alone = Self.run(model, batched: false, steps: 3)
        for (a, b) in zip(together, alone) {
            let scale = b.map(abs).max() ?? 1
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-5 * scale)
        }
    }
}
