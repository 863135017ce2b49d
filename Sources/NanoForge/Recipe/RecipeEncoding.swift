import Yams

/// Builds recipe YAML nodes that ``RecipeNode`` decodes back to the same values: how a pass
/// writes its configuration as its recipe section (``CompressionPass/encode()``).
///
/// Numbers and booleans are plain scalars (recipes refuse quoted numbers); strings are
/// double-quoted, so a path such as `true` or `8` stays a string; doubles use Swift's shortest
/// round-tripping spelling.
public struct RecipeEncoding {
    private var pairs: [(Node, Node)] = []

    public init() {}

    /// The mapping built so far, keys in the order they were set.
    public var node: Node { Node(pairs) }

    public mutating func set(_ key: String, _ value: Node?) {
        guard let value else { return }
        pairs.append((Node(key), value))
    }
    public mutating func set(_ key: String, _ value: Int?) { set(key, value.map(Self.int)) }
    public mutating func set(_ key: String, _ value: Double?) { set(key, value.map(Self.number)) }
    public mutating func set(_ key: String, _ value: Bool?) { set(key, value.map(Self.bool)) }
    public mutating func set(_ key: String, _ value: String?) { set(key, value.map(Self.string)) }
    public mutating func set<Choice: RecipeChoice>(_ key: String, _ value: Choice?) { set(key, value.map { Self.string($0.rawValue) }) }
    public mutating func set(_ key: String, strings: [String]?) { set(key, strings.map { Node($0.map(Self.string)) }) }
    public mutating func set(_ key: String, ints: [Int]?) { set(key, ints.map { Node($0.map(Self.int)) }) }

    public static func int(_ value: Int) -> Node { Node(String(value), .implicit, .plain) }
    public static func number(_ value: Double) -> Node { Node("\(value)", .implicit, .plain) }
    public static func bool(_ value: Bool) -> Node { Node(value ? "true" : "false", .implicit, .plain) }
    public static func string(_ value: String) -> Node { Node(value, .implicit, .doubleQuoted) }

    /// The node as YAML text, which ``RecipeDocument`` parses back.
    public static func yaml(_ node: Node) throws -> String { try Yams.serialize(node: node) }

    /// A mapping built by `body`.
    public static func mapping(_ body: (inout RecipeEncoding) -> Void) -> Node {
        var encoding = RecipeEncoding()
        body(&encoding)
        return encoding.node
    }
}
