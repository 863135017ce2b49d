import Foundation
import Testing
@testable import NanoForge
import TestSupport
import Yams

/// Every registered pass keeps the pass contract (`PassConformance`) on small real models: the
/// tiny BERT encoder of `PipelineTests` and the bundled digits classifier. Training passes run
/// two steps. A pass added to the registry without samples here fails.
@Suite struct PassConformanceTests {
    /// Samples per pass key; each selecting pass ignores some layer its targets take.
    static let samples: [String: [PassConformance.Sample]] = [
        "quantize": [
            .init(model: .tinyBert, section: #"{ method: gptq, bits: 4, group_size: 32, act_order: true, targets: ["encoder.layer.*"], ignore: ["*.attention.output.dense"], activations: { observer: percentile, percentile: 99 } }"#),
            .init(model: .digits, section: #"{ bits: 3, symmetric: false, granularity: tensor, observer: mse, scale_format: f16, ignore: ["layers.1"], activations: { mode: dynamic } }"#),
            .init(model: .tinyBert, section: #"{ bits: 8, targets: [Embedding, Linear], ignore: ["*.position_embeddings", "pooler.*"] }"#),
            .init(model: .tinyBert, section: #"{ method: gptq, ggml_type: q4_k, fallback_type: iq4_nl, targets: ["encoder.layer.*"], ignore: ["*.attention.output.dense"] }"#),
            .init(model: .tinyBert, section: #"{ ggml_type: Q5_1, targets: [Embedding, Linear], ignore: ["*.position_embeddings", "pooler.*"] }"#),
        ],
        "awq": [
            .init(model: .tinyBert, section: #"{ bits: 4, group_size: 16, grid: 10, targets: ["encoder.layer.*"], ignore: ["encoder.layer.1.*"] }"#),
        ],
        "prune": [
            .init(model: .tinyBert, section: #"{ method: wanda, pattern: "2:4", targets: ["encoder.layer.*"], ignore: ["encoder.layer.1.*"] }"#),
            .init(model: .digits, section: #"{ sparsity: 0.6, scope: global, ignore: ["layers.1"] }"#),
            .init(model: .digits, section: #"{ method: wanda, ignore: ["layers.1"], schedule: { initial: 0.2, final: 0.5, end_step: 2, update_every: 1, data: DIGITS/calibration.tsv, steps: 2, batch_size: 16, learning_rate: 0.001 } }"#),
        ],
        "prune_structured": [
            .init(model: .tinyBert, section: #"{ method: activation, ffn_ratio: 0.5, head_ratio: 0.5, targets: ["encoder.layer.*"], ignore: ["encoder.layer.1.*"] }"#),
        ],
        "trim_vocabulary": [
            .init(model: .tinyBert, section: #"{ corpus: [DIR/sentences.txt], min_count: 2 }"#),
        ],
        "distill": [
            .init(model: .tinyBert, section: #"{ layers: [1], losses: [{loss: embedding_cosine}, {loss: attention_kl, temperature: 2, weight: 0.5}], data: DIR/sentences.txt, steps: 2, batch_size: 4, learning_rate: 0.001 }"#),
        ],
        "qat": [
            .init(model: .tinyBert, section: #"{ bits: 4, group_size: 16, lsq: true, ignore: ["*.attention.output.dense"], data: DIR/sentences.txt, steps: 2, batch_size: 4 }"#),
            .init(model: .digits, section: #"{ bits: 2, symmetric: false, activations: true, ignore: ["layers.0"], data: DIGITS/calibration.tsv, steps: 2, batch_size: 16 }"#),
        ],
        "mixed_precision": [
            .init(model: .tinyBert, section: #"{ candidates: [8, 2, 4], budget: { average_bits: 5.5 }, method: gptq, group_size: 16, targets: ["encoder.layer.*"], ignore: ["*.query"] }"#),
            .init(model: .digits, section: #"{ budget: { size_mb: 0.02 }, group_size: 32, ignore: ["layers.1"] }"#),
        ],
    ]

    @Test(arguments: PassRegistry.keys)
    func passKeepsTheContract(_ key: String) throws {
        let samples = try #require(Self.samples[key], "the registered pass '\(key)' has no conformance samples")
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            for sample in samples {
                try PassConformance(key: key, sample: sample, folder: dir).check()
            }
        }
    }

    /// The check is not vacuous: `prune` with one extra write to a layer its `ignore` leaves out
    /// fails it, while the same `prune` passes.
    @Test func aPassThatTouchesAnIgnoredLayerFails() throws {
        try withTemporaryDirectory { dir in
            let conformance = PassConformance(key: "prune", sample: .init(model: .digits, section: #"{ sparsity: 0.5, ignore: ["layers.1"] }"#),
                                              folder: dir)
            let recipe = try conformance.recipe()
            let prune = try #require(recipe.stages.first?.pass as? PrunePass)
            try conformance.check(RecipeStage(prune), recipe: recipe)
            withKnownIssue("the leaky pass changes layers.1, which its ignore leaves out") {
                try conformance.check(RecipeStage(LeakyPrune(base: prune)), recipe: recipe)
            }
        }
    }
}

/// `prune`, plus one weight of the model's last Linear layer nudged whatever the selection says.
struct LeakyPrune: CompressionPass {
    var base: PrunePass
    static let key = "leaky_prune"
    static let summary = "prune, then a write outside the selection"
    static let fields = PrunePass.fields
    static let shapeEffect = ShapeEffect.keepsShapes
    var layerSelection: LayerSelector? { base.selector }
    static func decode(_ node: RecipeNode) throws -> LeakyPrune { LeakyPrune(base: try PrunePass.decode(node)) }
    func encode() -> Node { base.encode() }
    func run(on state: CompressionState, context: PassContext) throws -> String {
        let summary = try base.run(on: state, context: context)
        state.linearLayers.last!.layer.weight.value.scalars[0] += 1
        return summary
    }
}
