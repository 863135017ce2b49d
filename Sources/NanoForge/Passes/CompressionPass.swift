import Yams

/// What a pass does to tensor shapes, as it declares (the conformance tests check it).
public enum ShapeEffect: String, Sendable {
    /// Every tensor keeps its shape (quantization, unstructured pruning).
    case keepsShapes = "keeps shapes"
    /// Tensors may lose rows or columns, or whole layers (structured pruning, vocabulary trimming,
    /// distillation into a student cut from the teacher); none grows.
    case shrinks
}

/// Whether the pipeline can run a pass today.
public enum PassAvailability: Equatable, Sendable {
    case available
    /// Recipes may name the pass and are validated, but the pipeline refuses to run it, saying why.
    case notImplemented(String)
}

/// A compression pass: its configuration *is* the recipe's section for it (`- quantize: {…}`),
/// decoded and validated by the pass itself, and it runs on the pipeline's ``CompressionState``.
///
/// Adding a pass: a type conforming to this protocol in its own file under `Passes/`, and one line
/// in ``PassRegistry/all``. Decoding errors, unknown-key suggestions, `docs/recipes.md` and the
/// conformance tests (determinism, selection, shapes, round trip) follow from the conformance.
public protocol CompressionPass: Equatable {
    /// The recipe key (`quantize`).
    static var key: String { get }
    /// One paragraph for `docs/recipes.md`.
    static var summary: String { get }
    /// Every key of the pass's mapping, with type, default and allowed values: the source of
    /// unknown-key suggestions and `docs/recipes.md`.
    static var fields: [RecipeField] { get }
    /// Keys of nested mappings, documented below the pass's table (`schedule` keys, `losses` items).
    static var nestedFields: [(title: String, fields: [RecipeField])] { get }
    static var availability: PassAvailability { get }
    /// What the pass does to tensor shapes.
    static var shapeEffect: ShapeEffect { get }
    /// Whether the pass stores weights quantized (one quantizing stage per recipe).
    static var quantizesWeights: Bool { get }
    /// Whether the pass removes weights (pruning must come before quantization).
    static var prunesWeights: Bool { get }

    /// Decodes and validates the pass's recipe section (a mapping; `- quantize:` alone is an
    /// empty one). Errors name the recipe path of the offending key.
    static func decode(_ node: RecipeNode) throws -> Self
    /// The section as a recipe mapping that ``decode(_:)`` turns back into an equal pass.
    func encode() -> Node

    /// Whether this configuration trains the model (and so uses the shared training loop).
    var trains: Bool { get }
    /// Whether this configuration observes activations on `data.calibration`.
    var needsCalibration: Bool { get }
    /// The layers it selects with `targets` / `ignore`, or nil when it works on no selection
    /// (vocabulary trimming, distillation).
    var layerSelection: LayerSelector? { get }
    /// Files the configuration reads that must exist before the pipeline starts, with the key
    /// that names each (`corpus[0]`).
    var inputFiles: [(field: String, path: String)] { get }

    /// Applies the pass to `state` and returns a one-line summary for the log and report.
    func run(on state: CompressionState, context: PassContext) throws -> String
}

extension CompressionPass {
    public static var nestedFields: [(title: String, fields: [RecipeField])] { [] }
    public static var availability: PassAvailability { .available }
    public static var quantizesWeights: Bool { false }
    public static var prunesWeights: Bool { false }
    public var trains: Bool { false }
    public var needsCalibration: Bool { false }
    public var inputFiles: [(field: String, path: String)] { [] }

    /// The recipe key of this pass's type.
    public var key: String { Self.key }

    /// Equality across the existential: the same pass type with equal configurations.
    func isEqual(to other: any CompressionPass) -> Bool {
        guard let other = other as? Self else { return false }
        return self == other
    }
}
