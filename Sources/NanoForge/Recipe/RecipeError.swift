import Foundation

/// Where in a recipe a problem sits: the file, the recipe path (`stages[1].quantize.bits`) and,
/// when the YAML parser reported one, the line and column (both from 1).
public struct RecipeLocation: Sendable, Equatable, CustomStringConvertible {
    /// The recipe file as the caller named it.
    public var file: String
    /// The dotted recipe path, with list indices from 0 (`stages[0].prune.pattern`); empty for the whole document.
    public var path: String
    /// Line of the offending node, from 1, when known.
    public var line: Int?
    /// Column of the offending node, from 1, when known.
    public var column: Int?

    public init(file: String, path: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.path = path
        self.line = line
        self.column = column
    }

    /// `file:line:column: path`, leaving out what is unknown.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let line = line, line > 0, let column { text += ":\(column)" }
        if !path.isEmpty { text += ": \(path)" }
        return text
    }
}

/// Everything that can be wrong with a recipe, found before any tensor is touched.
///
/// Every case carries its ``RecipeLocation`` (file, recipe path, line and column) and
/// ``description`` renders one line: `recipe.yaml:7:22: stages[1].quantize.bits: expected an
/// integer in 2...8, found 9`. Unknown names carry the nearest valid name as a suggestion.
public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, unreadable, not UTF-8, too large).
    case unreadable(RecipeLocation, reason: String)
    /// The YAML itself is malformed; the location carries the parser's line and column.
    case syntax(RecipeLocation, problem: String)
    /// Valid YAML that recipes refuse on purpose (anchors and aliases, several documents).
    case unsupportedYAML(RecipeLocation, feature: String, hint: String)
    /// A mapping key that this place in the recipe does not know.
    case unknownKey(RecipeLocation, key: String, allowed: [String], suggestion: String?)
    /// A stage names a pass that the registry does not know.
    case unknownPass(RecipeLocation, name: String, allowed: [String], suggestion: String?)
    /// A required key is absent.
    case missingKey(RecipeLocation, key: String, hint: String?)
    /// A value of the wrong YAML type (a list where a mapping belongs, a string for an integer).
    case wrongType(RecipeLocation, expected: String, found: String)
    /// A number or count outside its allowed range.
    case outOfRange(RecipeLocation, allowed: String, found: String)
    /// A string that is not one of a fixed set of choices.
    case invalidChoice(RecipeLocation, allowed: [String], found: String, suggestion: String?)
    /// Values that are fine alone but contradict each other (`group_size` with `granularity: channel`).
    case conflict(RecipeLocation, problem: String, hint: String)
    /// A recipe that decodes but asks for a pass the pipeline cannot run yet.
    case notImplemented(RecipeLocation, pass: String, hint: String)

    /// Where the problem is.
    public var location: RecipeLocation {
        switch self {
        case let .unreadable(l, _), let .syntax(l, _), let .unsupportedYAML(l, _, _),
             let .unknownKey(l, _, _, _), let .unknownPass(l, _, _, _), let .missingKey(l, _, _),
             let .wrongType(l, _, _), let .outOfRange(l, _, _), let .invalidChoice(l, _, _, _),
             let .conflict(l, _, _), let .notImplemented(l, _, _):
            return l
        }
    }

    /// The recipe file.
    public var file: String { location.file }
    /// The recipe path (`stages[1].quantize.bits`).
    public var path: String { location.path }

    /// What is allowed here, in words.
    public var allowed: String {
        switch self {
        case .unreadable: return "a readable UTF-8 YAML file"
        case .syntax: return "well-formed YAML"
        case .unsupportedYAML: return "plain YAML without anchors, aliases or several documents"
        case let .unknownKey(_, _, allowed, _): return "one of " + Self.list(allowed)
        case let .unknownPass(_, _, allowed, _): return "one of " + Self.list(allowed)
        case let .missingKey(_, key, _): return "'\(key)' present"
        case let .wrongType(_, expected, _): return expected
        case let .outOfRange(_, allowed, _): return allowed
        case let .invalidChoice(_, allowed, _, _): return "one of " + Self.list(allowed)
        case .conflict: return "consistent options"
        case .notImplemented: return "an implemented pass"
        }
    }

    /// What was found instead.
    public var found: String {
        switch self {
        case let .unreadable(_, reason): return reason
        case let .syntax(_, problem): return problem
        case let .unsupportedYAML(_, feature, _): return feature
        case let .unknownKey(_, key, _, _): return "'\(key)'"
        case let .unknownPass(_, name, _, _): return "'\(name)'"
        case .missingKey: return "nothing"
        case let .wrongType(_, _, found): return found
        case let .outOfRange(_, _, found): return found
        case let .invalidChoice(_, _, found, _): return "'\(found)'"
        case let .conflict(_, problem, _): return problem
        case let .notImplemented(_, pass, _): return "'\(pass)'"
        }
    }

    /// How to fix it, when there is something more to say than ``allowed``.
    public var hint: String? {
        switch self {
        case let .unknownKey(_, _, _, suggestion), let .unknownPass(_, _, _, suggestion),
             let .invalidChoice(_, _, _, suggestion):
            return suggestion.map { "did you mean '\($0)'?" }
        case let .missingKey(_, _, hint): return hint
        case let .unsupportedYAML(_, _, hint), let .conflict(_, _, hint), let .notImplemented(_, _, hint):
            return hint
        case .unreadable, .syntax, .wrongType, .outOfRange:
            return nil
        }
    }

    /// The problem without the location.
    public var message: String {
        switch self {
        case let .unreadable(_, reason): return "cannot read recipe: \(reason)"
        case let .syntax(_, problem): return "YAML syntax error: \(problem)"
        case let .unsupportedYAML(_, feature, _): return "\(feature) not allowed in recipes"
        case let .unknownKey(_, key, allowed, _):
            return "unknown key '\(key)' (allowed: \(allowed.joined(separator: ", ")))"
        case let .unknownPass(_, name, allowed, _):
            return "unknown pass '\(name)' (passes: \(allowed.joined(separator: ", ")))"
        case .missingKey: return "missing required key"
        case let .wrongType(_, expected, found): return "expected \(expected), found \(found)"
        case let .outOfRange(_, allowed, found): return "expected \(allowed), found \(found)"
        case let .invalidChoice(_, allowed, found, _):
            return "'\(found)' is not one of \(Self.list(allowed))"
        case let .conflict(_, problem, _): return problem
        case let .notImplemented(_, pass, _): return "pass '\(pass)' is not implemented yet"
        }
    }

    /// One line: location, problem and hint.
    public var description: String {
        var text = "\(location): \(message)"
        if let hint { text += "; \(hint)" }
        return text
    }

    private static func list(_ names: [String]) -> String {
        names.map { "'\($0)'" }.joined(separator: ", ")
    }
}
