import NanoModels
import NanoTensor
import Testing
import TestSupport
@testable import NanoForge

/// `PassContext.hessians`: layers that read the same input share one accumulator buffer, and every
/// layer's sums are exactly what accumulating its own observed inputs gives.
@Suite struct HessianSharingTests {
    @Test func queryKeyAndValueShareOneBufferWithTheSameSums() throws {
        try withTemporaryDirectory { dir in
            let (state, context, names) = try Self.calibratedTinyBERT(dir)
            let shared = try context.hessians(for: names, in: state)

            // Each layer on its own, as before sharing.
            var own: [String: HessianAccumulator] = [:]
            try context.calibrationData(state).forEachLinearInput(state.model) { name, input, rowMask in
                try? own[name, default: HessianAccumulator(columns: input.shape[1])].add(CalibrationData.realRows(input, rowMask))
            }
            #expect(Set(shared.keys) == Set(names) && Set(own.keys) == Set(names))
            for name in names {
                #expect(shared[name]?.sum == own[name]?.sum, "\(name): shared sums differ from its own")
                #expect(shared[name]?.rows == own[name]?.rows)
            }

            func buffer(_ name: String) -> UnsafeRawPointer? {
                shared[name]?.sum.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
            }
            let layer0 = "encoder.layer.0.attention."
            let query = buffer(layer0 + "self.query")
            #expect(query != nil)
            #expect(buffer(layer0 + "self.key") == query && buffer(layer0 + "self.value") == query)
            #expect(buffer(layer0 + "output.dense") != query, "the attention output reads another input")
        }
    }

    /// The tests' tiny BERT (`PipelineTests.makeFixture`) with a quantize stage's context over 8
    /// calibration sentences, and the names of its Linear layers.
    static func calibratedTinyBERT(_ dir: String) throws -> (state: CompressionState, context: PassContext, names: [String]) {
        try PipelineTests.makeFixture(dir)
        let recipe = try Recipe(yaml: PipelineTests.recipe(dir, stages: "  - quantize: { bits: 4 }"), file: "tiny.yaml")
        let state = CompressionState(model: try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model)
        let context = PassContext(recipe: recipe, index: 0, key: "quantize",
                                  calibration: try EvaluationData.inputs(dir + "/sentences.txt", limit: 8), log: { _ in })
        let names = try LayerSelector(targets: ["Linear"]).layers(Linear.self, in: state.model.container).map(\.name)
        return (state, context, names)
    }
}
