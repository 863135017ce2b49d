import Foundation
import Testing
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// The contract every registered ``CompressionPass`` keeps, checked by running it on a real small
/// model (`PassConformanceTests` runs it over the whole registry):
/// - its configuration round-trips: decode → encode → YAML text → decode gives an equal pass;
/// - it is deterministic: two runs from freshly loaded models give bit-identical parameters;
/// - it keeps shapes, or shrinks them (never grows, something gets smaller), as it declares;
/// - it touches only the layers it selects and honours `ignore`: parameters of unselected layers
///   stay bit-identical (passes that fine-tune the whole model instead leave them unquantized
///   and gain them no new zeros), nothing unselected is stored quantized, and some selected
///   layer does change.
struct PassConformance {
    /// A model the check runs on.
    enum Model: String, CustomStringConvertible {
        /// `PipelineTests`' BERT encoder (width 32, 2 layers, WordPiece vocabulary), written to a folder.
        case tinyBert
        /// The bundled digits MLP classifier (`Fixtures/models/digits-mlp`).
        case digits

        var description: String { rawValue }
    }

    /// One configuration of a pass to check: the YAML of its section (`DIR` stands for the
    /// fixture folder) and the model it runs on.
    struct Sample: CustomStringConvertible {
        var model: Model
        var section: String
        var description: String { "\(model): \(section)" }
    }

    /// A parameter as the check compares it: shape and exact bits.
    struct Snapshot: Equatable {
        var shape: [Int]
        var bits: [UInt32]
    }

    let key: String
    let sample: Sample
    /// The temporary folder holding the tiny BERT fixture.
    let folder: String

    var modelPath: String {
        switch sample.model {
        case .tinyBert: return folder + "/model"
        case .digits: return PipelineClassifierTests.fixture
        }
    }

    var calibrationPath: String {
        switch sample.model {
        case .tinyBert: return folder + "/sentences.txt"
        case .digits: return PipelineClassifierTests.fixture + "/calibration.tsv"
        }
    }

    /// The recipe holding the sample as its one stage.
    func recipe() throws -> Recipe {
        let section = sample.section.replacingOccurrences(of: "DIR", with: folder)
            .replacingOccurrences(of: "DIGITS", with: PipelineClassifierTests.fixture)
        return try Recipe(yaml: """
            name: conformance
            model: { path: \(modelPath) }
            seed: 5
            data:
              calibration: { path: \(calibrationPath), samples: 16 }
            stages:
              - \(key): \(section)
            output: { dir: \(folder)/out }
            """, file: "conformance-\(key).yaml")
    }

    // MARK: the checks

    /// decode → encode → YAML → decode, and the whole stage item the same way.
    func checkRoundTrip(_ stage: RecipeStage) throws {
        let type = Swift.type(of: stage.pass)
        let text = try RecipeEncoding.yaml(stage.pass.encode())
        let again = try type.decode(RecipeDocument.parse(text, file: "roundtrip.yaml"))
        #expect(RecipeStage(again) == stage, "\(key) did not round-trip through:\n\(text)")
        guard PassRegistry.pass(named: stage.key) != nil else { return }
        let item = try RecipeEncoding.yaml(stage.encode())
        let decodedItem = try RecipeStage.decode(RecipeDocument.parse(item, file: "roundtrip.yaml"))
        #expect(decodedItem == stage, "\(key) stage item did not round-trip through:\n\(item)")
    }

    /// Runs the stage on a freshly loaded model; returns the parameters before and after and
    /// the names of the layers stored quantized.
    func run(_ stage: RecipeStage, recipe: Recipe) throws
        -> (before: [String: Snapshot], after: [String: Snapshot], quantized: Set<String>, selected: Set<String>, ignored: Set<String>) {
        let model = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
        let state = CompressionState(model: model)
        let before = Self.snapshot(state)
        var selected: Set<String> = [], ignored: Set<String> = []
        if let selector = stage.pass.layerSelection {
            selected = Self.layerNames(selector, state.model.container)
            let targetsOnly = try LayerSelector(targets: selector.targets)
            ignored = Self.layerNames(targetsOnly, state.model.container).subtracting(selected)
        }
        let calibration = try EvaluationData.inputs(calibrationPath, limit: 16)
        let context = PassContext(recipe: recipe, index: 0, key: stage.key, calibration: calibration, log: { _ in })
        _ = try stage.pass.run(on: state, context: context)
        return (before, Self.snapshot(state), Set(state.quantized.keys).union(state.ggmlQuantized.keys), selected, ignored)
    }

    /// Every check on the sample.
    func check() throws {
        let recipe = try recipe()
        let stage = try #require(recipe.stages.first)
        #expect(stage.key == key)
        try check(stage, recipe: recipe)
    }

    /// Every check on `stage` (the sample's, or a stand-in for it), run in `recipe`.
    func check(_ stage: RecipeStage, recipe: Recipe) throws {
        try checkRoundTrip(stage)

        let first = try run(stage, recipe: recipe), second = try run(stage, recipe: recipe)
        let deterministic = first.after == second.after
        #expect(deterministic, "\(key): two runs with the same seed differ in \(first.after.keys.filter { first.after[$0] != second.after[$0] }.sorted())")

        let (before, after) = (first.before, first.after)
        switch Swift.type(of: stage.pass).shapeEffect {
        case .keepsShapes:
            #expect(before.mapValues(\.shape) == after.mapValues(\.shape), "\(key) declares it keeps shapes")
        case .shrinks:
            for (name, value) in after {
                let old = try #require(before[name], "\(key) added parameter \(name)")
                #expect(value.shape.count == old.shape.count && zip(value.shape, old.shape).allSatisfy { $0 <= $1 },
                        "\(key): \(name) grew from \(old.shape) to \(value.shape)")
            }
            let shrank = after.count < before.count || after.contains { $0.value.shape != before[$0.key]?.shape }
            #expect(shrank, "\(key) declares it shrinks shapes, and nothing shrank")
        }

        guard stage.pass.layerSelection != nil else { return }
        #expect(!first.selected.isEmpty, "\(key): the sample selects no layer")
        #expect(!first.ignored.isEmpty, "\(key): the sample's ignore leaves out no layer, so it checks nothing")
        #expect(first.quantized.isSubset(of: first.selected), "\(key) quantized unselected layers \(first.quantized.subtracting(first.selected))")
        func owner(_ parameter: String) -> String? { first.selected.first { parameter.hasPrefix($0 + ".") } }
        var changedSelected = false
        for (name, old) in before {
            let new = after[name]
            if owner(name) != nil {
                if new != old { changedSelected = true }
                continue
            }
            if stage.pass.trains {
                // Fine-tuning moves every weight; an unselected one must still gain no zeros.
                let nonZero = { (bits: UInt32) in bits & 0x7fff_ffff != 0 }
                let gained = new.map { zip(old.bits, $0.bits).contains { nonZero($0) && !nonZero($1) } } ?? true
                #expect(!gained, "\(key) pruned unselected parameter \(name)")
            } else {
                let same = new == old
                #expect(same, "\(key) changed unselected parameter \(name)")
            }
        }
        #expect(changedSelected, "\(key) changed none of the selected layers")
    }

    // MARK: helpers

    static func snapshot(_ state: CompressionState) -> [String: Snapshot] {
        Dictionary(uniqueKeysWithValues: state.model.container.namedParameters.map {
            ($0.name, Snapshot(shape: $0.variable.value.shape, bits: $0.variable.value.scalars.map(\.bitPattern)))
        })
    }

    /// The Linear layers and embedding tables a selector takes, by name.
    static func layerNames(_ selector: LayerSelector, _ container: ParameterContainer) -> Set<String> {
        Set(selector.layers(Linear.self, in: container).map(\.name) + selector.layers(Embedding.self, in: container).map(\.name))
    }
}
