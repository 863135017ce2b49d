/// A position inside a recipe document: `stages[1].quantize.bits`.
///
/// Keys join with dots, list indices (from 0) with brackets, as the errors print them.
public struct RecipePath: Sendable, Equatable, CustomStringConvertible {
    /// One step down the document.
    public enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    /// The steps from the document root.
    public private(set) var components: [Component]

    /// The document root.
    public static let root = RecipePath(components: [])

    public init(components: [Component]) {
        self.components = components
    }

    /// This path extended by a mapping key.
    public func appending(_ key: String) -> RecipePath {
        RecipePath(components: components + [.key(key)])
    }

    /// This path extended by a list index.
    public func appending(index: Int) -> RecipePath {
        RecipePath(components: components + [.index(index)])
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case let .key(key): text += text.isEmpty ? key : ".\(key)"
            case let .index(index): text += "[\(index)]"
            }
        }
        return text
    }
}
