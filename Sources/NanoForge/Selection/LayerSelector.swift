import Foundation

/// The kinds of layer a recipe can select by name (`targets: [Linear]`).
public enum LayerKind: String, CaseIterable, Sendable {
    case linear = "Linear"
    case embedding = "Embedding"
    case layerNorm = "LayerNorm"
    case rmsNorm = "RMSNorm"
}

/// A `targets` or `ignore` pattern that cannot be used.
public enum LayerSelectorError: Error, Equatable, CustomStringConvertible {
    /// A capitalised word that is not a ``LayerKind`` (`Linaer`); the nearest kind is suggested.
    case unknownKind(String, suggestion: String?)
    /// A `re:` pattern whose regular expression does not compile.
    case invalidRegularExpression(String, reason: String)
    /// An empty pattern, or `re:` with nothing after it.
    case emptyPattern(String)

    /// The offending pattern as written.
    public var pattern: String {
        switch self {
        case let .unknownKind(pattern, _), let .invalidRegularExpression(pattern, _), let .emptyPattern(pattern):
            return pattern
        }
    }

    public var description: String {
        switch self {
        case let .unknownKind(pattern, suggestion):
            let kinds = LayerKind.allCases.map(\.rawValue).joined(separator: ", ")
            return "'\(pattern)' is not a layer kind (\(kinds))" + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
        case let .invalidRegularExpression(pattern, reason):
            return "'\(pattern)' is not a valid regular expression: \(reason)"
        case let .emptyPattern(pattern):
            return "'\(pattern)' is an empty pattern"
        }
    }
}

/// Which layers a pass touches: the one selection mechanism behind every recipe's `targets` and
/// `ignore`.
///
/// A layer is selected when some target matches it and no ignore pattern does. Each pattern is:
/// - a layer kind, exactly `Linear`, `Embedding`, `LayerNorm` or `RMSNorm`: matches every layer of
///   that kind. Any other pattern that starts with a capital letter and has no `.`, `*` or `?` is
///   refused as a misspelt kind (parameter names in checkpoints are lower-case);
/// - `re:` followed by a regular expression, which must match the whole layer name;
/// - otherwise a glob over the whole dotted layer name (`encoder.layer.0.attention.self.query`):
///   `*` matches any run of characters **including dots**, so `encoder.layer.*` reaches every depth
///   below, as llm-compressor users expect; `?` matches one character; everything else literally.
///
/// A pattern that names the layer's `weight` or `bias` (`pooler.dense.weight`) selects that layer too.
public struct LayerSelector: Equatable, CustomStringConvertible {
    enum Pattern: Equatable {
        case kind(LayerKind)
        case glob([Character])
        case regex(String)
    }

    /// The target patterns as written.
    public let targets: [String]
    /// The ignore patterns as written.
    public let ignore: [String]
    private let targetPatterns: [Pattern]
    private let ignorePatterns: [Pattern]
    private let expressions: [String: NSRegularExpression]

    /// Compiles the patterns; throws ``LayerSelectorError`` for a misspelt kind, a bad regular
    /// expression or an empty pattern.
    public init(targets: [String], ignore: [String] = []) throws {
        var expressions: [String: NSRegularExpression] = [:]
        func compile(_ text: String) throws -> Pattern {
            if let kind = LayerKind(rawValue: text) { return .kind(kind) }
            if text.hasPrefix("re:") {
                let source = String(text.dropFirst(3))
                guard !source.isEmpty else { throw LayerSelectorError.emptyPattern(text) }
                do {
                    expressions[source] = try NSRegularExpression(pattern: "^(?:" + source + ")$")
                } catch {
                    throw LayerSelectorError.invalidRegularExpression(text, reason: "\(error.localizedDescription)")
                }
                return .regex(source)
            }
            guard !text.isEmpty else { throw LayerSelectorError.emptyPattern(text) }
            if let first = text.unicodeScalars.first, CharacterSet.uppercaseLetters.contains(first),
               !text.contains(where: { ".*?".contains($0) }) {
                throw LayerSelectorError.unknownKind(
                    text, suggestion: NameSuggestion.nearest(to: text, in: LayerKind.allCases.map(\.rawValue)))
            }
            return .glob(Array(text))
        }
        self.targets = targets
        self.ignore = ignore
        self.targetPatterns = try targets.map(compile)
        self.ignorePatterns = try ignore.map(compile)
        self.expressions = expressions
    }

    /// Whether the layer called `name` (its dotted path, the prefix of its parameter names) of
    /// the given kind is selected.
    public func selects(name: String, kind: LayerKind) -> Bool {
        let characters = Array(name)
        return targetPatterns.contains { matches($0, characters, kind) }
            && !ignorePatterns.contains { matches($0, characters, kind) }
    }

    /// Whether the parameter called `parameterName` (`…dense.weight`) belongs to a selected layer,
    /// taking the layer name as everything before the last dot.
    public func selects(parameter parameterName: String, kind: LayerKind) -> Bool {
        guard let dot = parameterName.lastIndex(of: ".") else { return selects(name: parameterName, kind: kind) }
        return selects(name: String(parameterName[..<dot]), kind: kind)
    }

    public var description: String {
        "targets \(targets)" + (ignore.isEmpty ? "" : ", ignore \(ignore)")
    }

    public static func == (lhs: LayerSelector, rhs: LayerSelector) -> Bool {
        lhs.targets == rhs.targets && lhs.ignore == rhs.ignore
    }

    private func matches(_ pattern: Pattern, _ name: [Character], _ kind: LayerKind) -> Bool {
        switch pattern {
        case let .kind(wanted):
            return wanted == kind
        case let .glob(glob):
            return Self.glob(glob, matches: name) || Self.glob(glob, matchesParameterOf: name)
        case let .regex(source):
            guard let expression = expressions[source] else { return false }
            let text = String(name)
            return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
    }

    /// Whether `glob` matches `name` extended by `.` and one more segment (a parameter of the layer).
    private static func glob(_ glob: [Character], matchesParameterOf name: [Character]) -> Bool {
        guard let dot = glob.lastIndex(of: "."),
              ["weight", "bias"].contains(String(glob[(dot + 1)...])) else { return false }
        return Self.glob(glob, matches: name + glob[dot...])
    }

    /// Glob matching with `*` (any run, dots included) and `?` (one character), by the classic
    /// two-pointer backtracking walk: linear in practice, O(n·m) at worst, no recursion.
    static func glob(_ pattern: [Character], matches text: [Character]) -> Bool {
        var p = 0, t = 0
        var star: Int?, resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if let starAt = star {
                p = starAt + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
