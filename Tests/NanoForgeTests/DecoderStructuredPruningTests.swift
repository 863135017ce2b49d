import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `prune_structured` on the Llama family through the model contract: the exact shapes removed,
/// and the pruned model's logits equal those of the unpruned model with the removed units masked
/// (their output columns zeroed; a removed block's attention and feed-forward outputs zeroed, so
/// the residual stream passes it unchanged).
@Suite struct DecoderStructuredPruningTests {
    /// 3 blocks, width 32, 4 query heads of 8 in 2 key/value groups, SwiGLU 48; weights large
    /// enough that attention is far from uniform. The same seed builds the same model.
    static func tiny(layers: Int = 3, tied: Bool = false, rmsEpsilon: Float = 1e-5, seed: UInt64 = 9) -> LlamaModel {
        var rng = RandomGenerator(seed: seed)
        let c = LlamaConfiguration(vocabularySize: 40, width: 32, layers: layers, heads: 4, kvHeads: 2, feedForwardWidth: 48,
                                   contextLength: 32, ropeBase: 10_000, rmsEpsilon: rmsEpsilon, tiedEmbeddings: tied)
        let model = LlamaModel(c, rng: &rng)
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.5, high: 1.5) : rng.normal(shape: p.shape, std: 0.3)
        }
        return model
    }

    static let tokens = [3, 17, 5, 39, 0, 22, 8, 8, 31, 12, 1, 26]

    /// Zeroes columns `columns` of a Linear's weight (masks those inputs).
    static func zeroColumns(_ linear: Linear, _ columns: [Int]) {
        let n = linear.inFeatures
        for r in 0..<linear.outFeatures { for c in columns { linear.weight.value.scalars[r * n + c] = 0 } }
    }

    static func expectSameLogits(_ pruned: LlamaModel, _ masked: LlamaModel) {
        let a = pruned.logits(tokens), b = masked.logits(tokens)
        #expect(a.shape == b.shape && isClose(a, b, rtol: 1e-4, atol: 1e-4), "max |Δ| \(zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0)")
    }

    @Test(arguments: [StructuredPruning.Importance.l2Norm, .activation])
    func feedForwardChannels(importance: StructuredPruning.Importance) throws {
        let model = Self.tiny(), masked = Self.tiny()
        let norms = importance == .activation ? Self.inputNorms(model) : [:]
        let report = try StructuredPruning(.init(feedForwardRatio: 0.25, importance: importance))
            .apply(to: model, inputNorms: norms, feedForwardBlocks: [0, 1, 2], headBlocks: [])
        #expect(model.configuration.feedForwardWidth == 36)
        for (i, block) in model.blocks.enumerated() {
            #expect(block.feedForward.up.weight.shape == [36, 32] && block.feedForward.gate?.weight.shape == [36, 32])
            #expect(block.feedForward.down.weight.shape == [32, 36])
            #expect(block.attention.query.weight.shape == [32, 32])
            let removed = Set(0..<48).subtracting(report.layers[i].keptNeurons).sorted()
            #expect(removed.count == 12)
            Self.zeroColumns(masked.blocks[i].feedForward.down, removed)
        }
        #expect(report.parametersBefore - report.parametersAfter == 3 * 12 * 32 * 3)
        Self.expectSameLogits(model, masked)
    }

    /// `query`: one query head of each group of two goes; the key/value heads stay.
    @Test func queryHeadsWithinGroups() throws {
        let model = Self.tiny(), masked = Self.tiny()
        var configuration = StructuredPruning.Configuration(headRatio: 0.5)
        configuration.headUnit = .query
        let report = try StructuredPruning(configuration).apply(to: model, feedForwardBlocks: [], headBlocks: [0, 1, 2])
        #expect(model.configuration.heads == 2 && model.configuration.kvHeads == 2 && model.configuration.headDimension == 8)
        for (i, block) in model.blocks.enumerated() {
            let a = block.attention
            #expect(a.query.weight.shape == [16, 32] && a.key.weight.shape == [16, 32] && a.value.weight.shape == [16, 32])
            #expect(a.output.weight.shape == [32, 16] && a.heads == 2 && a.kvHeads == 2)
            let kept = report.layers[i].keptHeads
            #expect(kept.count == 2 && kept[0] / 2 == 0 && kept[1] / 2 == 1, "one head of each group: \(kept)")
            Self.zeroColumns(masked.blocks[i].attention.output, Set(0..<4).subtracting(kept).flatMap { $0 * 8..<($0 + 1) * 8 })
        }
        Self.expectSameLogits(model, masked)
    }

    /// `group`: a whole key/value group goes with its two query heads.
    @Test func wholeKeyValueGroups() throws {
        let model = Self.tiny(), masked = Self.tiny()
        var configuration = StructuredPruning.Configuration(headRatio: 0.5)
        configuration.headUnit = .group
        let report = try StructuredPruning(configuration).apply(to: model, feedForwardBlocks: [], headBlocks: [0, 1, 2])
        #expect(model.configuration.heads == 2 && model.configuration.kvHeads == 1)
        for (i, block) in model.blocks.enumerated() {
            let a = block.attention
            #expect(a.query.weight.shape == [16, 32] && a.key.weight.shape == [8, 32] && a.value.weight.shape == [8, 32])
            #expect(a.output.weight.shape == [32, 16] && report.layers[i].kvHeadsAfter == 1)
            let kept = report.layers[i].keptHeads
            #expect(kept == [0, 1] || kept == [2, 3])
            Self.zeroColumns(masked.blocks[i].attention.output, Set(0..<4).subtracting(kept).flatMap { $0 * 8..<($0 + 1) * 8 })
        }
        Self.expectSameLogits(model, masked)
        // The KV cache follows the new head counts: cached decoding still matches the full forward.
        let cache = LlamaKVCache(for: model, capacity: 16)
        let stepped = model.decode(Self.tokens, cache: cache)
        #expect(isClose(stepped, model.logits(Self.tokens), rtol: 1e-4, atol: 1e-4))
    }

    /// A block whose attention and feed-forward outputs are zero passes the residual stream on
    /// unchanged: its block influence is exactly 0, it is the one `drop_blocks: 1` removes, and
    /// removing it leaves the logits as they were.
    @Test func blockInfluenceFindsAnIdentityBlock() throws {
        let model = Self.tiny()
        Self.zeroColumns(model.blocks[1].attention.output, Array(0..<32))
        Self.zeroColumns(model.blocks[1].feedForward.down, Array(0..<48))
        let before = model.logits(Self.tokens)
        let scores = BlockInfluence.scores(model, sequences: [Self.tokens, Array(Self.tokens.reversed())])
        #expect(scores[1] == 0 && scores[0] > 0 && scores[2] > 0)
        let dropped = BlockInfluence.lowest(scores, count: 1, among: [0, 1, 2])
        #expect(dropped == [1])
        model.keepBlocks([0, 2])
        model.recordBlockSizes()
        #expect(model.configuration.layers == 2 && model.prunableBlocks.map(\.path) == ["model.layers.0", "model.layers.1"])
        #expect(isClose(model.logits(Self.tokens), before, rtol: 1e-5, atol: 1e-5))
    }

    /// Named blocks: the pruned model equals the masked reference, saves with its new depth and
    /// widths, and loads back (native config + safetensors) to the same logits.
    @Test func depthAndWidthSaveAndLoadBack() throws {
        let model = Self.tiny(tied: true), masked = Self.tiny(tied: true)
        model.keepBlocks([0, 2])
        for i in [1] {
            Self.zeroColumns(masked.blocks[i].attention.output, Array(0..<32))
            Self.zeroColumns(masked.blocks[i].feedForward.down, Array(0..<48))
        }
        let report = try StructuredPruning(.init(feedForwardRatio: 0.5, headRatio: 0.5)).apply(to: model, feedForwardBlocks: [0, 1], headBlocks: [0, 1])
        for (i, original) in [0, 2].enumerated() {
            Self.zeroColumns(masked.blocks[original].feedForward.down, Set(0..<48).subtracting(report.layers[i].keptNeurons).sorted())
            Self.zeroColumns(masked.blocks[original].attention.output,
                             Set(0..<4).subtracting(report.layers[i].keptHeads).flatMap { $0 * 8..<($0 + 1) * 8 })
        }
        let c = model.configuration
        #expect(c.layers == 2 && c.feedForwardWidth == 24 && c.heads == 2 && c.kvHeads == 2)
        Self.expectSameLogits(model, masked)
        try withTemporaryDirectory { dir in
            try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                        to: dir + "/model.safetensors")
            try ModelSpec.llama(c).nativeJSON.serialized.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
            let back = try ModelLoader.load(path: dir, as: LlamaModel.self)
            #expect(back.configuration == c)
            #expect(back.logits(Self.tokens) == model.logits(Self.tokens))
        }
    }

    /// Hidden width: every tensor on the residual stream shrinks. The reference keeps all 32
    /// channels with the removed ones zero everywhere (embedding columns, o/down output rows), so
    /// the stream stays zero there; its norms then average over 32 channels instead of 24, which
    /// γ·√(24/32) and ε·24/32 undo exactly: x·γ/√(Σ_kept/24 + ε) = x·γ√(k/n)/√(Σ_kept/32 + εk/n).
    @Test(arguments: [false, true])
    func hiddenChannels(tied: Bool) throws {
        let removed = [1, 5, 6, 11, 17, 20, 28, 31]
        let kept = (0..<32).filter { !removed.contains($0) }
        let model = Self.tiny(tied: tied)
        let masked = Self.tiny(tied: tied, rmsEpsilon: 1e-5 * 24 / 32)
        model.keepHiddenChannels(kept)
        let c = model.configuration
        #expect(c.width == 24 && c.heads == 4 && c.kvHeads == 2 && c.headDimension == 8 && c.feedForwardWidth == 48)
        #expect(model.tokenEmbedding.weight.shape == [40, 24] && model.finalNorm.weight.shape == [24])
        #expect(model.head.map { $0.weight.shape == [40, 24] } ?? tied)
        for block in model.blocks {
            let a = block.attention, f = block.feedForward
            #expect(a.query.weight.shape == [32, 24] && a.key.weight.shape == [16, 24] && a.value.weight.shape == [16, 24])
            #expect(a.output.weight.shape == [24, 32] && f.up.weight.shape == [48, 24] && f.gate?.weight.shape == [48, 24])
            #expect(f.down.weight.shape == [24, 48])
        }
        #expect(model.parameterCount == Self.tiny(tied: tied).parameterCount - 8 * (40 * (tied ? 1 : 2) + 3 * (32 + 16 + 16 + 32 + 48 * 3 + 2) + 1))

        let table = masked.tokenEmbedding.weight
        for r in 0..<40 { for j in removed { table.value.scalars[r * 32 + j] = 0 } }
        var norms = [masked.finalNorm.weight]
        for block in masked.blocks {
            for linear in [block.attention.output, block.feedForward.down] {
                for j in removed { for c in 0..<linear.inFeatures { linear.weight.value.scalars[j * linear.inFeatures + c] = 0 } }
            }
            for norm in [block.attentionNorm, block.feedForwardNorm] { if case .rms(let n) = norm { norms.append(n.weight) } }
        }
        for w in norms { w.value = Tensor(shape: w.shape, scalars: w.value.scalars.map { $0 * (Float(24) / 32).squareRoot() }) }
        Self.expectSameLogits(model, masked)
    }

    /// ‖x_j‖ of each Linear's input over `tokens` (what calibration gives the pass).
    static func inputNorms(_ model: LlamaModel) -> [String: [Float]] {
        var sums: [String: [Float]] = [:]
        LinearInputs.observe(model.layers(of: Linear.self), during: { _ = model.logits(tokens) }) { name, input in
            let n = input.shape[1]
            var s = sums[name] ?? [Float](repeating: 0, count: n)
            for r in 0..<input.shape[0] { for j in 0..<n { s[j] += input.scalars[r * n + j] * input.scalars[r * n + j] } }
            sums[name] = s
        }
        return sums.mapValues { $0.map { $0.squareRoot() } }
    }
}
