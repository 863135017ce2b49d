import Foundation
import Yams

/// The YAML edge of recipe decoding: text in, a Yams `Node` tree out, with every parser
/// complaint turned into a ``RecipeError`` that carries the line and column.
///
/// **YAML bombs.** Recipes refuse anchors (`&name`) and aliases (`*name`) outright, and with them
/// merge keys (`<<: *base`). Aliases are the only way a small YAML text expands into a large tree
/// ("billion laughs"), and an alias that refers to its own enclosing node is rejected by the
/// parser as undefined, so with no anchors the tree is at most as large as the text. A recipe
/// has no need for them: each stage is a few lines. The text itself is capped at
/// ``maximumBytes`` and only one document is accepted.
enum RecipeDocument {
    /// The largest recipe accepted, in bytes (1 MiB: recipes are a few hundred bytes).
    static let maximumBytes = 1 << 20

    /// Reads and parses a recipe file.
    static func load(contentsOf path: String) throws -> (root: RecipeNode, text: String) {
        let location = RecipeLocation(file: path, path: "")
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw RecipeError.unreadable(location, reason: exists ? "the file cannot be read" : "no such file")
        }
        guard data.count <= maximumBytes else {
            throw RecipeError.unreadable(location, reason: "\(data.count) bytes, more than the \(maximumBytes)-byte limit")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecipeError.unreadable(location, reason: "the file is not UTF-8 text")
        }
        return (try parse(text, file: path), text)
    }

    /// Parses recipe text; `file` names it in errors.
    static func parse(_ text: String, file: String) throws -> RecipeNode {
        guard text.utf8.count <= maximumBytes else {
            throw RecipeError.unreadable(RecipeLocation(file: file, path: ""),
                                         reason: "\(text.utf8.count) bytes, more than the \(maximumBytes)-byte limit")
        }
        do {
            let parser = try Parser(yaml: text)
            let root = try parser.singleRoot()
            // Anchors are held weakly by nodes and strongly by the parser: inspect them while it lives.
            return try withExtendedLifetime(parser) {
                guard let root else {
                    throw RecipeError.wrongType(RecipeLocation(file: file, path: ""),
                                                expected: "a mapping with 'name', 'model' and 'stages'",
                                                found: "an empty document")
                }
                try refuseAnchors(in: root, file: file, path: .root)
                return RecipeNode(node: root, path: .root, file: file)
            }
        } catch let error as RecipeError {
            throw error
        } catch let error as YamlError {
            throw convert(error, file: file)
        }
    }

    /// Walks the tree and throws at the first anchored or alias node.
    private static func refuseAnchors(in node: Node, file: String, path: RecipePath) throws {
        if node.anchor != nil || node.alias != nil {
            throw RecipeError.unsupportedYAML(
                RecipeNode.location(of: node, file: file, path: path),
                feature: "YAML anchors and aliases (&name, *name, <<: merge keys) are",
                hint: "write each value out in full")
        }
        switch node {
        case let .mapping(mapping):
            for (key, value) in mapping {
                try refuseAnchors(in: key, file: file, path: path)
                try refuseAnchors(in: value, file: file, path: path.appending(key.string ?? "?"))
            }
        case let .sequence(sequence):
            for (index, element) in sequence.enumerated() {
                try refuseAnchors(in: element, file: file, path: path.appending(index: index))
            }
        case .scalar, .alias:
            break
        }
    }

    /// Maps Yams errors to ``RecipeError/syntax(_:problem:)`` with the parser's position.
    private static func convert(_ error: YamlError, file: String) -> RecipeError {
        func at(_ mark: Mark) -> RecipeLocation {
            RecipeLocation(file: file, path: "", line: mark.line, column: mark.column)
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            let within = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return .syntax(at(mark), problem: problem + within)
        case let .composer(_, problem, mark, _):
            if problem.contains("another document") {
                return .unsupportedYAML(at(mark), feature: "several YAML documents are", hint: "keep one recipe per file")
            }
            if problem.contains("undefined alias") {
                return .unsupportedYAML(at(mark), feature: "YAML anchors and aliases (&name, *name, <<: merge keys) are",
                                        hint: "write each value out in full")
            }
            return .syntax(at(mark), problem: problem)
        case let .duplicatedKeysInMapping(duplicates, context):
            return .syntax(at(context.mark), problem: "duplicate key(s) " + duplicates.sorted().map { "'\($0)'" }.joined(separator: ", "))
        case let .reader(problem, offset, _, yaml):
            var location = RecipeLocation(file: file, path: "")
            if let offset {
                let prefix = yaml.utf8.prefix(offset)
                location.line = prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                location.column = (prefix.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).last?.count ?? 0) + 1
            }
            return .syntax(location, problem: problem)
        default:
            return .syntax(RecipeLocation(file: file, path: ""), problem: "\(error)")
        }
    }
}
