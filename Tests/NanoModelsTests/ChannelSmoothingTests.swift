import Foundation
import Testing
import NanoTensor
import NanoModels
import TestSupport

/// The families' smoothing groups (`ChannelSmoothingModel`): folding any positive per-channel
/// scales into every group leaves the model's outputs unchanged up to float rounding, and the
/// groups are the ones each family's structure allows.
@Suite struct ChannelSmoothingTests {
    /// Scales between 1/4 and 4, log-uniform.
    static func randomScales(_ count: Int, _ rng: inout RandomGenerator) -> [Float] {
        (0..<count).map { _ in Foundation.exp(Float(rng.nextUniform() * 2 - 1) * Foundation.log(4)) }
    }

    static func foldRandomScales(_ groups: [SmoothingGroup], seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for group in groups { group.fold(randomScales(group.producer.channels, &rng)) }
    }

    /// max |a − b| / max |a|.
    static func relativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
        let largest = a.scalars.map(abs).max() ?? 0
        return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / largest
    }

    /// Multi-head attention with biases on q, k, v (Qwen2's; v's bias is divided too), and
    /// grouped-query attention without.
    @Test(arguments: zip([4, 2], [true, false]))
    func llamaGroupsFoldWithoutChangingTheLogits(kvHeads: Int, bias: Bool) throws {
        let model = LlamaModelTests.tiny(kvHeads: kvHeads, bias: bias)
        let groups = model.smoothingGroups
        // Per block: input norm → q,k,v; v → o only without grouped-query heads; post norm → gate,up; up → down.
        let perBlock = kvHeads == 4 ? 4 : 3
        #expect(groups.count == 2 * perBlock)
        #expect(groups.filter { $0.consumers.count == 3 }.count == 2 && groups.filter { $0.consumers.count == 2 }.count == 2)
        let tokens = [3, 17, 5, 30, 2, 11, 8, 36, 0, 21]
        let before = LlamaModelTests.fullLogits(model, tokens)
        Self.foldRandomScales(groups, seed: 9)
        let after = LlamaModelTests.fullLogits(model, tokens)
        let difference = Self.relativeDifference(before, after)
        #expect(difference < 1e-5, "logits moved by \(difference) of their range")
    }

    /// The check can fail: scaling the consumers' columns without dividing the producer changes
    /// the logits far beyond the tolerance above.
    @Test func aHalfFoldChangesTheLogits() {
        let model = LlamaModelTests.tiny(kvHeads: 4)
        let tokens = [3, 17, 5, 30, 2, 11]
        let before = LlamaModelTests.fullLogits(model, tokens)
        var rng = RandomGenerator(seed: 9)
        let group = model.smoothingGroups[0]
        let scales = Self.randomScales(group.producer.channels, &rng)
        for consumer in group.consumers {
            let columns = consumer.inFeatures
            for i in consumer.weight.value.scalars.indices { consumer.weight.value.scalars[i] *= scales[i % columns] }
        }
        #expect(Self.relativeDifference(before, LlamaModelTests.fullLogits(model, tokens)) > 1e-2)
    }

    @Test func bertValueOutputGroupsFoldWithoutChangingTheHiddenStates() {
        var rng = RandomGenerator(seed: 4)
        let c = BertEncoder.Configuration(vocabularySize: 50, width: 32, layers: 2, heads: 4, intermediateWidth: 64, maxPositions: 16)
        let bert = BertEncoder(c, rng: &rng)
        for (_, p) in bert.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: -0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        let groups = bert.smoothingGroups
        #expect(groups.count == 2)
        #expect(groups.allSatisfy { g in
            if case .linear(let v) = g.producer { return bert.layers.contains { $0.attention.value === v && g.consumers.count == 1 && g.consumers[0] === $0.attention.output } }
            return false
        })
        // Two sentences, the second padded: padding must not matter either.
        let ids = [1, 7, 9, 4, 2, 3, 8, 0]
        let mask = Tensor(shape: [2, 4], scalars: [1, 1, 1, 1, 1, 1, 1, 0])
        let before = bert(ids, attentionMask: mask, tape: Tape(recording: false)).value
        Self.foldRandomScales(groups, seed: 2)
        let after = bert(ids, attentionMask: mask, tape: Tape(recording: false)).value
        let difference = Self.relativeDifference(before, after)
        #expect(difference < 1e-5, "hidden states moved by \(difference) of their range")
    }
}
