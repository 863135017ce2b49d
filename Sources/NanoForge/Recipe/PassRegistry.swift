/// The plain list of passes a recipe can name, in the order `docs/recipes.md` documents them.
/// Adding a pass: a ``CompressionPass`` type in its own file and one line here.
public enum PassRegistry {
    public static let all: [any CompressionPass.Type] = [
        QuantizePass.self,
        AWQPass.self,
        PrunePass.self,
        StructuredPrunePass.self,
        TrimVocabularyPass.self,
        DistillPass.self,
        QATPass.self,
        MixedPrecisionPass.self,
    ]

    /// Every recipe key, in registry order.
    // Closures, not key paths: key paths over existential metatypes crash the Swift 6.3.1 compiler.
    public static var keys: [String] { all.map { $0.key } }

    /// The pass named `key`, if any.
    public static func pass(named key: String) -> (any CompressionPass.Type)? {
        all.first { $0.key == key }
    }
}
