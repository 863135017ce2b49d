import Foundation
import Testing
@testable import NanoForge
import TestSupport

struct RecipeDocumentationTests {
    /// docs/recipes.md must equal what the registry generates. On a mismatch, the expected text
    /// is written to a temporary file and the message gives the `cp` that regenerates the docs.
    @Test func docsMatchTheRegistry() throws {
        let docsPath = RepositoryPaths.root + "/docs/recipes.md"
        let expected = RecipeDocumentation.markdown()
        let actual = (try? String(contentsOfFile: docsPath, encoding: .utf8)) ?? ""
        if actual != expected {
            let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-recipes.md").path
            try expected.write(toFile: fresh, atomically: true, encoding: .utf8)
            Issue.record("docs/recipes.md is out of date with the pass registry. Regenerate it with:\n  cp \(fresh) \(docsPath)\n(see the difference with: diff \(docsPath) \(fresh))")
        }
    }

    @Test func exampleRecipeDecodes() throws {
        let recipe = try Recipe(yaml: RecipeDocumentation.example, file: "example.yaml")
        #expect(recipe.stages.map(\.key) == ["prune", "quantize"])
    }

    @Test func everyPassIsRegisteredAndDocumented() {
        #expect(Set(PassRegistry.keys).count == PassRegistry.all.count)
        let docs = RecipeDocumentation.markdown()
        for pass in PassRegistry.all {
            #expect(docs.contains("### `\(pass.key)`"))
            for field in pass.fields {
                #expect(docs.contains("| `\(field.name)` |"), "\(pass.key).\(field.name)")
            }
            #expect(Set(pass.fields.map(\.name)).count == pass.fields.count, "duplicate field in \(pass.key)")
        }
    }
}
