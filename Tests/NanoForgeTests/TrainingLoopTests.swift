import Foundation
import Testing
import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// The shared training loop: batch order, determinism under a seed, and bit-exact resumption.
@Suite struct TrainingLoopTests {
    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "ran",
                             "a", "big", "red", "ball", "##s", ".", ",", "and", "in", "park", "sun", "is", "hot"]

    /// `count` random sentences of 2–9 words over the tiny vocabulary.
    static func sentences(_ count: Int, seed: UInt64) -> [String] {
        var rng = RandomGenerator(seed: seed)
        let words = Array(vocabulary[5...])
        return (0..<count).map { _ in
            (0..<(2 + Int(rng.next() % 8))).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
        }
    }

    static func tinyEncoder(layers: Int = 2, seed: UInt64 = 11) throws -> SentenceEncoder {
        var rng = RandomGenerator(seed: seed)
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 32, layers: layers, heads: 4, intermediateWidth: 64,
                                          maxPositions: 64)
        return SentenceEncoder(tokenizer: try WordPieceTokenizer(vocabulary: vocabulary), encoder: BertEncoder(c, rng: &rng))
    }

    @Test func batchesCoverEveryExampleOncePerEpochAndGroupLengths() {
        let lengths = (0..<100).map { ($0 * 37) % 23 }
        let batches = TrainingBatches(count: 100, batchSize: 8, lengths: lengths, seed: 3)
        #expect(batches.batchesPerEpoch == 13)
        for epoch in 0..<2 {
            let order = batches.epoch(epoch)
            #expect(order.count == 13)
            #expect(order.flatMap { $0 }.sorted() == Array(0..<100))
        }
        #expect(batches.epoch(0) == batches.epoch(0))
        #expect(batches.epoch(0) != batches.epoch(1))
        // Within a batch lengths are close: sorting chunks of 16 batches leaves small spreads.
        let spread = batches.epoch(0).map { b in b.map { lengths[$0] }.max()! - b.map { lengths[$0] }.min()! }
        #expect(spread.reduce(0, +) < 13 * 6)
    }

    /// Trains a copy of the tiny encoder towards fixed random targets; returns the final
    /// parameters' bit patterns and the result.
    static func train(seed: UInt64, steps: Int, folder: String? = nil, resume: Bool = false, stopAfter: Int? = nil,
                      evalEvery: Int = 0) throws -> (bits: [[UInt32]], result: TrainingLoop.Result) {
        let encoder = try tinyEncoder()
        let sentences = Self.sentences(24, seed: 5)
        let tokens = sentences.map { encoder.tokenizer.encode($0) }
        var rng = RandomGenerator(seed: 99)
        let targets = rng.normal(shape: [sentences.count, 32])
        var configuration = TrainingLoop.Configuration(steps: steps, batchSize: 5, learningRate: 3e-3, seed: seed)
        configuration.warmup = 2
        configuration.checkpointEvery = folder == nil ? 0 : 2
        configuration.checkpointDirectory = folder
        configuration.resume = resume
        configuration.stopAfter = stopAfter
        configuration.evalEvery = evalEvery
        var loop = TrainingLoop(parameters: encoder.encoder.namedParameters, configuration: configuration,
                                batches: TrainingBatches(count: sentences.count, batchSize: 5, lengths: tokens.map(\.count), seed: seed))
        // A score that moves non-monotonically, so the kept best is not simply the last state.
        loop.evaluate = { Double(encoder.encoder.layers[0].attention.query.weight.value.scalars[0]) }
        let result = try loop.run { batch, tape in
            let b = encoder.batch(tokenIds: batch.map { tokens[$0] })
            let embeddings = encoder.embeddings(b, tape: tape)
            let rows = Tensor(shape: [batch.count, 32], scalars: batch.flatMap { Array(targets.scalars[$0 * 32..<($0 + 1) * 32]) })
            return Loss.meanSquaredError(embeddings, tape.constant(rows), tape: tape)
        }
        return (encoder.encoder.parameters.map { $0.value.scalars.map(\.bitPattern) }, result)
    }

    @Test func sameSeedGivesIdenticalWeightsAndTheLossFalls() throws {
        let a = try Self.train(seed: 7, steps: 12)
        let b = try Self.train(seed: 7, steps: 12)
        #expect(a.bits == b.bits)
        let c = try Self.train(seed: 8, steps: 12)
        #expect(a.bits != c.bits)
        let first = a.result.losses.prefix(3).reduce(0, +), last = a.result.losses.suffix(3).reduce(0, +)
        print("training loop: loss of the first 3 steps \(first / 3), last 3 \(last / 3)")
        #expect(last < first)
    }

    @Test(arguments: [0, 3])
    func resumedRunEndsBitIdenticalToAnUninterruptedOne(evalEvery: Int) throws {
        try withTemporaryDirectory { dir in
            let whole = try Self.train(seed: 7, steps: 10, evalEvery: evalEvery)
            let folder = dir + "/checkpoints"
            // Interrupted after step 5: the last checkpoint is step 4, so step 5 is done again.
            let stopped = try Self.train(seed: 7, steps: 10, folder: folder, stopAfter: 5, evalEvery: evalEvery)
            #expect(stopped.result.interrupted && stopped.result.steps == 5)
            #expect(stopped.bits != whole.bits)
            #expect(FileManager.default.fileExists(atPath: folder + "/" + TrainingCheckpoint.fileName))
            let resumed = try Self.train(seed: 7, steps: 10, folder: folder, resume: true, evalEvery: evalEvery)
            #expect(resumed.result.resumedFrom == 4)
            #expect(resumed.result.losses.count == 6)
            #expect(resumed.bits == whole.bits)
            #expect(resumed.result.bestStep == whole.result.bestStep)
            #expect(Array(resumed.result.losses.suffix(5)).map(\.bitPattern) == Array(whole.result.losses.suffix(5)).map(\.bitPattern))
        }
    }

    @Test func aCheckpointOfAnotherRunIsRefused() throws {
        try withTemporaryDirectory { dir in
            _ = try Self.train(seed: 7, steps: 10, folder: dir, stopAfter: 4)
            #expect(throws: TrainingError.self) { try Self.train(seed: 8, steps: 10, folder: dir, resume: true) }
        }
    }
}
