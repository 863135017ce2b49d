import Yams

/// One decoded stage of a recipe: a pass with its configuration (the recipe's section for it).
public struct RecipeStage: Equatable, CustomStringConvertible {
    public let pass: any CompressionPass

    public init(_ pass: any CompressionPass) { self.pass = pass }

    /// The pass's recipe key (`quantize`).
    public var key: String { pass.key }

    /// Whether this stage trains the model (and so needs the shared training loop).
    public var trains: Bool { pass.trains }

    /// Why the pipeline cannot run this stage yet, or nil when it can.
    public var unavailableReason: String? {
        if case let .notImplemented(reason) = type(of: pass).availability { return reason }
        return nil
    }

    public static func == (a: RecipeStage, b: RecipeStage) -> Bool { a.pass.isEqual(to: b.pass) }

    public var description: String { "\(key): \(pass)" }

    /// The stage as a recipe list item, `{<key>: <section>}`.
    public func encode() -> Node {
        Node([(Node(key), pass.encode())])
    }

    /// Decodes a stage item: a mapping with exactly one key, the pass name, whose value is the
    /// pass's section (`- quantize: {bits: 4}`; `- trim_vocabulary: {corpus: …}`).
    static func decode(_ node: RecipeNode) throws -> RecipeStage {
        guard case let .mapping(mapping) = node.node else {
            throw RecipeError.wrongType(node.location, expected: "a mapping with one pass name, e.g. '- quantize: {bits: 8}'",
                                        found: node.found)
        }
        let names = PassRegistry.keys
        guard mapping.count == 1, let (key, _) = mapping.first(where: { _ in true }) else {
            let keys = mapping.keys.compactMap(\.string)
            throw RecipeError.conflict(node.location,
                                       problem: mapping.isEmpty ? "a stage with no pass" : "a stage names \(keys.count) passes (\(keys.joined(separator: ", ")))",
                                       hint: "give each pass its own '- ' list item")
        }
        let name = key.string ?? ""
        guard let pass = PassRegistry.pass(named: name) else {
            throw RecipeError.unknownPass(RecipeNode.location(of: key, file: node.file, path: node.path.appending(name)),
                                          name: name, allowed: names, suggestion: NameSuggestion.nearest(to: name, in: names))
        }
        let sections = try node.mapping(keys: names)
        // `- quantize:` with nothing after it means all defaults.
        let body = sections.values[name].flatMap { $0.isNull ? nil : $0 }
            ?? RecipeNode(node: .mapping(Node.Mapping([])), path: node.path.appending(name), file: node.file)
        return RecipeStage(try pass.decode(body))
    }
}
