import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// Structured pruning: exact removal of dead units, physical shrinking, config round trip.
struct PruningStructuredTests {
    static let configuration = BertEncoder.Configuration(vocabularySize: 50, width: 16, layers: 2, heads: 4,
                                                         intermediateWidth: 32, maxPositions: 16)

    static func model(seed: UInt64 = 1) -> BertEncoder {
        var rng = RandomGenerator(seed: seed)
        return BertEncoder(configuration, rng: &rng)
    }

    static let ids = [2, 7, 9, 11, 3, 0, 4, 8, 12, 30, 31, 1]
    static let mask = Tensor(shape: [2, 6], scalars: [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])

    static func output(_ m: BertEncoder) -> Tensor { m(ids, attentionMask: mask, tape: Tape(recording: false)).value }

    /// Zeroes every weight of `neurons` and `heads` in every layer (rows of up / q, k, v with
    /// their biases, columns of down / output), so removing them cannot change the outputs.
    static func kill(_ m: BertEncoder, neurons: [Int], heads: [Int]) {
        func zeroRows(_ l: Linear, _ rows: [Int]) {
            for r in rows { for c in 0..<l.inFeatures { l.weight.value[r, c] = 0 }; l.bias?.value[r] = 0 }
        }
        func zeroColumns(_ l: Linear, _ cols: [Int]) {
            for r in 0..<l.outFeatures { for c in cols { l.weight.value[r, c] = 0 } }
        }
        for layer in m.layers {
            let d = layer.attention.headDimension
            let features = heads.flatMap { h in h * d..<(h + 1) * d }
            zeroRows(layer.feedForward.up, neurons)
            zeroColumns(layer.feedForward.down, neurons)
            for l in [layer.attention.query, layer.attention.key, layer.attention.value] { zeroRows(l, features) }
            zeroColumns(layer.attention.output, features)
        }
    }

    @Test(arguments: StructuredPruning.Importance.allCases)
    func removingDeadUnitsKeepsOutputs(importance: StructuredPruning.Importance) throws {
        let m = Self.model()
        let dead = [1, 4, 5, 9, 17, 20, 30, 31], deadHeads = [2]
        Self.kill(m, neurons: dead, heads: deadHeads)
        let before = Self.output(m)
        var norms: [String: [Float]] = [:]
        if importance == .activation {
            norms = BertCalibration.inputNorms(m, batches: [(Self.ids, Self.mask)])
        }
        let report = try StructuredPruning(.init(feedForwardRatio: 0.25, headRatio: 0.25, importance: importance)).apply(to: m, inputNorms: norms)
        for change in report.layers {
            #expect(change.keptNeurons == (0..<32).filter { !dead.contains($0) })
            #expect(change.keptHeads == [0, 1, 3])
        }
        let after = Self.output(m)
        #expect(maxAbsDifference(before, after) <= 1e-5)
        #expect(m.layers[0].feedForward.up.weight.shape == [24, 16])
        #expect(m.layers[0].feedForward.down.weight.shape == [16, 24])
        #expect(m.layers[0].attention.query.weight.shape == [12, 16])
        #expect(m.layers[0].attention.output.weight.shape == [16, 12])
        #expect(m.layers[0].attention.heads == 3)
    }

    @Test func parameterCountDropsAsExpected() throws {
        let m = Self.model(seed: 2)
        let report = try StructuredPruning(.init(feedForwardRatio: 0.5, headRatio: 0.5)).apply(to: m)
        // Per layer: 16 neurons × (16 up weights + 1 up bias + 16 down weights); 2 heads × 4 dims × (3 × (16 + 1) + 16).
        let perLayer = 16 * (16 + 1 + 16) + 2 * 4 * (3 * 17 + 16)
        #expect(report.parametersBefore - report.parametersAfter == 2 * perLayer)
        #expect(m.parameterCount == report.parametersAfter)
        #expect(m.configuration.intermediateWidth == 16 && m.configuration.layerIntermediateWidths == nil)
        #expect(m.configuration.layerHeads == [2, 2])
    }

    @Test func calibrationForwardMatchesTheEncoder() {
        let m = Self.model(seed: 3)
        var names: [String] = []
        let hidden = BertCalibration.forEachLinearInput(m, ids: Self.ids, attentionMask: Self.mask) { name, input, rows in
            names.append(name)
            #expect(input.shape[0] == rows.count)
        }
        #expect(maxAbsDifference(hidden, Self.output(m)) <= 1e-6)
        #expect(names == m.layers(of: Linear.self).map(\.name))
    }

    @Test func groupedQueryAttentionIsRefused() throws {
        var rng = RandomGenerator(seed: 4)
        let attention = MultiHeadAttention(width: 16, heads: 4, kvHeads: 2, rng: &rng)
        #expect(throws: PruningError.groupedQueryAttention(layer: "a", heads: 4, kvHeads: 2)) {
            try StructuredPruning.headImportance(attention, contextNorms: nil, layer: "a")
        }
        #expect(throws: PruningError.self) { try StructuredPruning(.init(feedForwardRatio: 1)) }
    }

    /// Layers pruned to different sizes save with per-layer sizes in `nanoforge.config` and load
    /// back through `ModelLoader` with the same outputs.
    @Test func prunedModelRoundTripsThroughSafetensors() throws {
        let m = Self.model(seed: 5)
        let pass = try StructuredPruning(.init(feedForwardRatio: 0.25, headRatio: 0.25))
        StructuredPruning.keepNeurons(m.layers[1].feedForward, Array(0..<8))
        try StructuredPruning.keepHeads(m.layers[1].attention, [1], layer: "encoder.layer.1.attention")
        try pass.apply(to: m)
        #expect(m.configuration.layerIntermediateWidths == [24, 6])
        #expect(m.configuration.layerHeads == [3, 1])
        let expected = Self.output(m)
        try withTemporaryDirectory { dir in
            let spec = ModelSpec.bert(m.configuration)
            let store = TensorStore(tensors: m.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) },
                                    metadata: ["nanoforge.config": spec.nativeJSON.serialized])
            let path = dir + "/pruned.safetensors"
            try SafetensorsWriter.write(store, to: path)
            let (loaded, _) = try ModelLoader.load(path: path)
            #expect(loaded.spec == spec)
            guard let reloaded = loaded.as(BertEncoder.self) else { Issue.record("not bert"); return }
            #expect(maxAbsDifference(Self.output(reloaded), expected) <= 1e-6)
            #expect(reloaded.parameterCount == m.parameterCount)
        }
    }

    @Test func perLayerSizesOfTheWrongLengthAreAConfigError() throws {
        var c = Self.configuration
        c.layerHeads = [4]
        let json = try JSONParser.parse(Array(ModelSpec.bert(c).nativeJSON.serialized.utf8))
        #expect(throws: CheckpointError.self) { try ModelSpec.parse(json, file: "x") }
    }
}
