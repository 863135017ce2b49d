import Yams

/// A string-valued choice in a recipe (`method: gptq`): the YAML edge turns it into this enum at once.
public protocol RecipeChoice: RawRepresentable, CaseIterable, Sendable where RawValue == String {}

/// An allowed interval for a real-valued option, with open or closed ends, printed as `[0, 1)`.
struct NumberRange: Sendable {
    var lower: Double?
    var lowerInclusive = true
    var upper: Double?
    var upperInclusive = true

    static func closed(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper)
    }
    static func halfOpen(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper, upperInclusive: false)
    }
    static func open(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: false, upper: upper, upperInclusive: false)
    }
    static func greaterThan(_ lower: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: false, upper: nil)
    }

    func contains(_ value: Double) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    var description: String {
        switch (lower, upper) {
        case let (lower?, upper?):
            return "a number in \(lowerInclusive ? "[" : "(")\(Self.format(lower)), \(Self.format(upper))\(upperInclusive ? "]" : ")")"
        case let (lower?, nil):
            return "a number \(lowerInclusive ? "≥" : ">") \(Self.format(lower))"
        case let (nil, upper?):
            return "a number \(upperInclusive ? "≤" : "<") \(Self.format(upper))"
        case (nil, nil):
            return "a number"
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// A node of a parsed recipe together with its recipe path and file: the small hand-written
/// decoder that turns YAML into typed values and names the path in every error. Each
/// ``CompressionPass`` decodes its own section from one.
public struct RecipeNode {
    let node: Node
    let path: RecipePath
    let file: String

    /// The location of this node for errors.
    var location: RecipeLocation { Self.location(of: node, file: file, path: path) }

    static func location(of node: Node, file: String, path: RecipePath) -> RecipeLocation {
        RecipeLocation(file: file, path: path.description, line: node.mark?.line, column: node.mark?.column)
    }

    /// The node in words, for "found …" in errors.
    var found: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case let .scalar(scalar):
            if isNull { return "null" }
            if scalar.style == .plain { return scalar.string }
            return "the string '\(scalar.string)'"
        }
    }

    /// True for `~`, `null` and an empty plain value.
    var isNull: Bool {
        guard case let .scalar(scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private func wrongType(_ expected: String) -> RecipeError {
        .wrongType(location, expected: expected, found: found)
    }

    /// This node as a mapping whose keys must be among `keys`; an unknown key is an error that
    /// suggests the nearest allowed one.
    func mapping(keys: [String]) throws -> RecipeMapping {
        guard case let .mapping(mapping) = node else { throw wrongType("a mapping") }
        var values: [String: RecipeNode] = [:]
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                throw RecipeError.wrongType(Self.location(of: key, file: file, path: path),
                                            expected: "a string key", found: RecipeNode(node: key, path: path, file: file).found)
            }
            let name = scalar.string
            let child = RecipeNode(node: value, path: path.appending(name), file: file)
            guard keys.contains(name) else {
                throw RecipeError.unknownKey(Self.location(of: key, file: file, path: path.appending(name)), key: name,
                                             allowed: keys, suggestion: NameSuggestion.nearest(to: name, in: keys))
            }
            values[name] = child
        }
        return RecipeMapping(owner: self, keys: keys, values: values)
    }

    /// As `mapping(keys:)`, but an unknown key is recorded in `errors` and skipped, so the
    /// rest of the mapping is still read (the recipe's top level reports every bad key).
    func mapping(keys: [String], collecting errors: inout [RecipeError]) throws -> RecipeMapping {
        guard case let .mapping(mapping) = node else { throw wrongType("a mapping") }
        var known: [(Node, Node)] = []
        for (key, value) in mapping {
            if case let .scalar(scalar) = key, !keys.contains(scalar.string) {
                let name = scalar.string
                errors.append(RecipeError.unknownKey(Self.location(of: key, file: file, path: path.appending(name)), key: name,
                                                     allowed: keys, suggestion: NameSuggestion.nearest(to: name, in: keys)))
            } else {
                known.append((key, value))
            }
        }
        guard known.count < mapping.count else { return try self.mapping(keys: keys) }
        return try RecipeNode(node: .mapping(Node.Mapping(known, mapping.tag, mapping.style, mapping.mark)), path: path, file: file)
            .mapping(keys: keys)
    }

    /// This node as a mapping whose keys are the given fields' names.
    func mapping(_ fields: [RecipeField]) throws -> RecipeMapping {
        try mapping(keys: fields.map(\.name))
    }

    /// This node as a list.
    func list() throws -> [RecipeNode] {
        guard case let .sequence(sequence) = node else { throw wrongType("a list") }
        return sequence.enumerated().map { RecipeNode(node: $0.element, path: path.appending(index: $0.offset), file: file) }
    }

    /// This node as a non-empty string (any scalar that is not null).
    func string() throws -> String {
        guard case let .scalar(scalar) = node, !isNull, !scalar.string.isEmpty else { throw wrongType("a string") }
        return scalar.string
    }

    /// One string or a list of strings, as a list (`corpus: a.txt` or `corpus: [a.txt, b.txt]`).
    func strings() throws -> [String] {
        if case .sequence = node { return try list().map { try $0.string() } }
        guard case .scalar = node, !isNull else { throw wrongType("a string or a list of strings") }
        return [try string()]
    }

    /// A plain (unquoted) integer.
    private func plainInteger() throws -> Int {
        guard case let .scalar(scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            throw wrongType("an integer")
        }
        return value
    }

    /// An integer inside `range`.
    func int(_ range: ClosedRange<Int>) throws -> Int {
        let value = try plainInteger()
        guard range.contains(value) else {
            throw RecipeError.outOfRange(location, allowed: "an integer in \(range.lowerBound)...\(range.upperBound)", found: "\(value)")
        }
        return value
    }

    /// An integer no smaller than `minimum`.
    func int(atLeast minimum: Int) throws -> Int {
        let value = try plainInteger()
        guard value >= minimum else {
            throw RecipeError.outOfRange(location, allowed: "an integer ≥ \(minimum)", found: "\(value)")
        }
        return value
    }

    /// A finite real number (integers accepted) inside `range`.
    func number(_ range: NumberRange) throws -> Double {
        guard case let .scalar(scalar) = node, scalar.style == .plain,
              let value = Double(scalar.string), value.isFinite else {
            throw wrongType("a number")
        }
        guard range.contains(value) else {
            throw RecipeError.outOfRange(location, allowed: range.description, found: scalar.string)
        }
        return value
    }

    /// `true` or `false`.
    func bool() throws -> Bool {
        guard case let .scalar(scalar) = node, scalar.style == .plain else { throw wrongType("true or false") }
        switch scalar.string {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw wrongType("true or false")
        }
    }

    /// One of the named values (an algorithm's own enum, spelled as recipes spell it); a near
    /// miss is suggested.
    func choice<Value>(_ named: [(name: String, value: Value)]) throws -> Value {
        let names = named.map(\.name)
        guard case let .scalar(scalar) = node, !isNull else {
            throw wrongType("one of " + names.map { "'\($0)'" }.joined(separator: ", "))
        }
        guard let value = named.first(where: { $0.name == scalar.string })?.value else {
            throw RecipeError.invalidChoice(location, allowed: names, found: scalar.string,
                                            suggestion: NameSuggestion.nearest(to: scalar.string, in: names))
        }
        return value
    }

    /// One of a choice enum's names; a near miss is suggested.
    func choice<Choice: RecipeChoice>(_ type: Choice.Type) throws -> Choice {
        let names = Choice.allCases.map(\.rawValue)
        guard case let .scalar(scalar) = node, !isNull else {
            throw wrongType("one of " + names.map { "'\($0)'" }.joined(separator: ", "))
        }
        guard let value = Choice(rawValue: scalar.string) else {
            throw RecipeError.invalidChoice(location, allowed: names, found: scalar.string,
                                            suggestion: NameSuggestion.nearest(to: scalar.string, in: names))
        }
        return value
    }
}

/// A decoded mapping whose keys have been checked against the allowed names.
struct RecipeMapping {
    let owner: RecipeNode
    let keys: [String]
    let values: [String: RecipeNode]

    /// The value of `key`, or nil when absent or null.
    func optional(_ key: String) -> RecipeNode? {
        precondition(keys.contains(key), "decoder reads '\(key)', which its field list does not declare")
        guard let value = values[key], !value.isNull else { return nil }
        return value
    }

    /// The value of `key`, decoded, or `defaultValue` when absent.
    func optional<T>(_ key: String, default defaultValue: T, _ decode: (RecipeNode) throws -> T) throws -> T {
        guard let value = optional(key) else { return defaultValue }
        return try decode(value)
    }

    /// The value of `key`; its absence is an error.
    func required(_ key: String, hint: String? = nil) throws -> RecipeNode {
        guard let value = optional(key) else {
            throw RecipeError.missingKey(RecipeLocation(file: owner.file, path: owner.path.appending(key).description,
                                                        line: owner.node.mark?.line, column: owner.node.mark?.column),
                                         key: key, hint: hint)
        }
        return value
    }

    /// Whether `key` is present with a non-null value.
    func contains(_ key: String) -> Bool { optional(key) != nil }
}
