import Testing
@testable import NanoForge

struct LayerSelectorTests {
    let query = "encoder.layer.0.attention.self.query"
    let attentionOutput = "encoder.layer.3.attention.output.dense"
    let pooler = "pooler.dense"
    let embeddings = "embeddings.word_embeddings"
    let norm = "encoder.layer.0.output.LayerNorm"

    @Test func kindSelectsEveryLayerOfThatKind() throws {
        let selector = try LayerSelector(targets: ["Linear"], ignore: [])
        #expect(selector.selects(name: query, kind: .linear))
        #expect(selector.selects(name: pooler, kind: .linear))
        #expect(!selector.selects(name: embeddings, kind: .embedding))
        #expect(!selector.selects(name: norm, kind: .layerNorm))
    }

    @Test func starCrossesDots() throws {
        let selector = try LayerSelector(targets: ["encoder.layer.*"], ignore: ["*.attention.output.*"])
        #expect(selector.selects(name: query, kind: .linear))
        #expect(!selector.selects(name: attentionOutput, kind: .linear))
        #expect(!selector.selects(name: pooler, kind: .linear))
        #expect(!selector.selects(name: "encoder.layer", kind: .linear))
    }

    @Test func ignoreWinsOverTargets() throws {
        let selector = try LayerSelector(targets: ["Linear"], ignore: ["pooler.*"])
        #expect(!selector.selects(name: pooler, kind: .linear))
        #expect(selector.selects(name: query, kind: .linear))
        let byKind = try LayerSelector(targets: ["*"], ignore: ["Embedding", "LayerNorm"])
        #expect(!byKind.selects(name: embeddings, kind: .embedding))
        #expect(!byKind.selects(name: norm, kind: .layerNorm))
        #expect(byKind.selects(name: query, kind: .linear))
    }

    @Test func questionMarkIsOneCharacter() throws {
        let selector = try LayerSelector(targets: ["encoder.layer.?.output.dense"])
        #expect(selector.selects(name: "encoder.layer.5.output.dense", kind: .linear))
        #expect(!selector.selects(name: "encoder.layer.11.output.dense", kind: .linear))
    }

    @Test func globsMatchTheWholeName() throws {
        let selector = try LayerSelector(targets: ["layer.0"])
        #expect(!selector.selects(name: "encoder.layer.0", kind: .linear))
        #expect(!selector.selects(name: "layer.01", kind: .linear))
        #expect(selector.selects(name: "layer.0", kind: .linear))
    }

    @Test func parameterNameSelectsItsLayer() throws {
        let selector = try LayerSelector(targets: ["pooler.dense.weight"])
        #expect(selector.selects(name: pooler, kind: .linear))
        #expect(selector.selects(parameter: "pooler.dense.bias", kind: .linear))
        // A literal last segment that is not weight/bias must not select the parent layer.
        let exact = try LayerSelector(targets: ["encoder.layer.0.output.dense"])
        #expect(!exact.selects(name: "encoder.layer.0.output", kind: .linear))
    }

    @Test func regularExpressionsMatchTheWholeName() throws {
        let selector = try LayerSelector(targets: [#"re:encoder\.layer\.[0-2]\..*"#])
        #expect(selector.selects(name: query, kind: .linear))
        #expect(!selector.selects(name: attentionOutput, kind: .linear))
        let partial = try LayerSelector(targets: ["re:query"])
        #expect(!partial.selects(name: query, kind: .linear))
    }

    @Test func badPatternsAreRefused() {
        #expect(throws: LayerSelectorError.unknownKind("Linaer", suggestion: "Linear")) {
            try LayerSelector(targets: ["Linaer"])
        }
        #expect(throws: LayerSelectorError.emptyPattern("")) { try LayerSelector(targets: [""]) }
        #expect(throws: LayerSelectorError.emptyPattern("re:")) { try LayerSelector(targets: ["Linear"], ignore: ["re:"]) }
        #expect(throws: LayerSelectorError.self) { try LayerSelector(targets: ["re:(unclosed"]) }
    }

    @Test func emptyTargetsSelectNothing() throws {
        let selector = try LayerSelector(targets: [])
        #expect(!selector.selects(name: query, kind: .linear))
    }

    @Test(arguments: [
        ("*", "", true), ("*", "a.b.c", true), ("a*c", "abc", true), ("a*c", "a.b.c", true), ("a*c", "a.b.d", false),
        ("*.weight", "x.weight", true), ("**", "anything", true), ("a?c", "a.c", true), ("a?c", "ac", false),
        ("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false), ("", "", true), ("abc", "abd", false),
    ])
    func globCases(_ pattern: String, _ text: String, _ expected: Bool) {
        #expect(LayerSelector.glob(Array(pattern), matches: Array(text)) == expected)
    }
}
