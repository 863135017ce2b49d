import Foundation
import Testing
import NanoForge
import TestSupport

/// The invalid-recipe corpus: each file starts with `# path: …` and `# expect: …` comment lines;
/// an optional third line `# root: DIR` checks the output folder as `compress --root DIR` does.
struct RecipeFixtureTests {
    static let invalidDirectory = RepositoryPaths.fixture("recipes/invalid")

    static var invalidFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: invalidDirectory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static var recipeFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: RepositoryPaths.root + "/Recipes")) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test func corpusIsLargeEnough() {
        #expect(Self.invalidFiles.count >= 25)
        #expect(Self.recipeFiles.count >= 7)
    }

    @Test(arguments: invalidFiles)
    func invalidRecipeGivesItsError(_ name: String) throws {
        let path = Self.invalidDirectory + "/" + name
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let header = text.split(separator: "\n").prefix(3).map(String.init)
        try #require(header.count >= 2 && header[0].hasPrefix("# path:") && header[1].hasPrefix("# expect:"),
                     "\(name) must start with '# path: …' and '# expect: …'")
        let expectedPath = header[0].dropFirst("# path:".count).trimmingCharacters(in: .whitespaces)
        let expectedMessage = header[1].dropFirst("# expect:".count).trimmingCharacters(in: .whitespaces)
        let root = header.count == 3 && header[2].hasPrefix("# root:")
            ? header[2].dropFirst("# root:".count).trimmingCharacters(in: .whitespaces) : nil
        do {
            let recipe = try Recipe.load(contentsOf: path)
            if let root { try recipe.checkOutputDirectory(root: root) }
            Issue.record("\(name) decoded, but should fail: \(recipe.name)")
        } catch let error as RecipeError {
            #expect(error.path == expectedPath, "\(name): \(error)")
            #expect(error.description.contains(expectedMessage), "\(name): \(error)")
            #expect(error.file == path)
            #expect(error.description.hasPrefix(path), "the message names the file: \(error)")
            #expect(!error.description.contains("\n"), "one line: \(error)")
        }
    }

    @Test func syntaxErrorsCarryLineAndColumn() throws {
        let path = Self.invalidDirectory + "/syntax-error.yaml"
        #expect(throws: RecipeError.self) { try Recipe.load(contentsOf: path) }
        do {
            _ = try Recipe.load(contentsOf: path)
        } catch let error as RecipeError {
            // `{ bits: 8` is left open on line 6 and the parser notices at the next line.
            #expect(error.location.line == 7)
            #expect(error.location.column != nil)
            #expect(error.description.hasPrefix(path + ":7:"))
        }
    }

    /// Each syntax fixture reports where the parser stopped, as `file:line:column:`.
    @Test(arguments: [("syntax-error.yaml", 7, 7), ("syntax-tab-indent.yaml", 5, 1)])
    func syntaxErrorPosition(_ name: String, line: Int, column: Int) throws {
        let path = Self.invalidDirectory + "/" + name
        #expect {
            try Recipe.load(contentsOf: path)
        } throws: { error in
            guard let error = error as? RecipeError, case .syntax = error else { return false }
            return error.location.line == line && error.location.column == column
                && error.description.hasPrefix("\(path):\(line):\(column): ")
        }
    }

    @Test(arguments: recipeFiles)
    func shippedRecipeDecodes(_ name: String) throws {
        let recipe = try Recipe.load(contentsOf: RepositoryPaths.root + "/Recipes/" + name)
        #expect(recipe.name + ".yaml" == name)
        #expect(!recipe.stages.isEmpty)
        #expect(recipe.stages.allSatisfy { $0.unavailableReason == nil })
    }

    @Test func missingFileIsUnreadable() {
        #expect {
            try Recipe.load(contentsOf: "/nonexistent/recipe.yaml")
        } throws: { error in
            guard let error = error as? RecipeError, case .unreadable = error else { return false }
            return error.description.contains("no such file")
        }
    }
}
