/// One documented key of a recipe mapping: its name, type, default, allowed values and meaning.
///
/// Field lists are the single source for both decoding (a key not listed is unknown, and the
/// nearest listed name is suggested) and `docs/recipes.md` (``RecipeDocumentation``).
public struct RecipeField: Sendable, Equatable {
    /// The YAML key, `snake_case`.
    public var name: String
    /// The value's type in words (`integer`, `number`, `string`, `list of strings`, `mapping`).
    public var type: String
    /// The default in YAML notation, or nil when the key is required or has no default.
    public var defaultValue: String?
    /// Whether the key must be present (subject to the conditions in ``summary``).
    public var required: Bool
    /// The allowed values or range in words (`2…8`, `rtn | gptq`).
    public var allowed: String
    /// What the key means and when it applies.
    public var summary: String

    public init(_ name: String, _ type: String, default defaultValue: String? = nil, required: Bool = false,
                allowed: String = "", _ summary: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.required = required
        self.allowed = allowed
        self.summary = summary
    }

    /// The allowed names of a choice enum, `a | b | c`.
    static func choices<Choice: RecipeChoice>(_ type: Choice.Type) -> String {
        Choice.allCases.map(\.rawValue).joined(separator: " | ")
    }

    /// The allowed names of a named choice, `a | b | c`.
    static func choices<Value>(_ named: [(name: String, value: Value)]) -> String {
        named.map(\.name).joined(separator: " | ")
    }
}

/// The fields shared by every pass that works on selected layers.
enum SelectionFields {
    /// `targets` with the given default, and `ignore`.
    static func fields(defaultTargets: [String]) -> [RecipeField] {
        [
            RecipeField("targets", "list of strings", default: "[" + defaultTargets.map { "\"\($0)\"" }.joined(separator: ", ") + "]",
                        allowed: "layer kinds (Linear, Embedding, LayerNorm, RMSNorm), globs, re:regex",
                        "Layers the pass applies to: a layer kind, a glob over layer names (`*` any characters including dots, `?` one) or `re:` and a regular expression."),
            RecipeField("ignore", "list of strings", default: "[]", allowed: "as targets",
                        "Layers to leave alone even when a target selects them."),
        ]
    }

    /// Writes `targets` and `ignore` (an empty `ignore` is left out).
    static func encode(_ selector: LayerSelector, into encoding: inout RecipeEncoding) {
        encoding.set("targets", strings: selector.targets)
        encoding.set("ignore", strings: selector.ignore.isEmpty ? nil : selector.ignore)
    }

    /// Decodes `targets` and `ignore` into a ``LayerSelector``, naming the offending pattern on error.
    static func decode(_ mapping: RecipeMapping, defaultTargets: [String]) throws -> LayerSelector {
        func patterns(_ key: String, _ defaultValue: [String]) throws -> [String] {
            guard let node = mapping.optional(key) else { return defaultValue }
            return try node.strings()
        }
        let targets = try patterns("targets", defaultTargets)
        let ignore = try patterns("ignore", [])
        if targets.isEmpty, let node = mapping.optional("targets") {
            throw RecipeError.outOfRange(node.location, allowed: "at least one pattern", found: "an empty list")
        }
        do {
            return try LayerSelector(targets: targets, ignore: ignore)
        } catch let error as LayerSelectorError {
            let key = targets.contains(error.pattern) ? "targets" : "ignore"
            let location = mapping.optional(key)?.location ?? mapping.owner.location
            switch error {
            case let .unknownKind(pattern, suggestion):
                throw RecipeError.invalidChoice(location, allowed: LayerKind.allCases.map(\.rawValue), found: pattern,
                                                suggestion: suggestion)
            case let .invalidRegularExpression(pattern, reason):
                throw RecipeError.wrongType(location, expected: "a valid regular expression", found: "'\(pattern)' (\(reason))")
            case let .emptyPattern(pattern):
                throw RecipeError.wrongType(location, expected: "a non-empty pattern", found: "'\(pattern)'")
            }
        }
    }
}
