/// Whether the pipeline can run a pass today.
public enum PassAvailability: Equatable, Sendable {
    case available
    /// Recipes may name the pass and are validated, but the pipeline refuses to run it, saying why.
    case notImplemented(String)
}

/// What the recipe layer knows about one pass: its key, a summary, its option fields and how to
/// decode them. Implementations attach elsewhere (a `CompressionPass` conformance per pass).
public struct PassDescriptor {
    public let kind: PassKind
    public let summary: String
    public let availability: PassAvailability
    /// Every option key, with type, default and allowed values: the source for unknown-key
    /// suggestions and `docs/recipes.md`.
    public let fields: [RecipeField]
    let decode: (RecipeNode) throws -> StageConfiguration

    /// The recipe key (`quantize`).
    public var name: String { kind.rawValue }
}

/// The plain list of passes a recipe can name. Adding a pass: an options type with its
/// `fields` and `decode`, a case in ``PassKind`` and ``StageConfiguration``, and one entry here.
public enum PassRegistry {
    public static let all: [PassDescriptor] = [
        PassDescriptor(kind: .quantize,
                       summary: "Post-training weight quantization (RTN or GPTQ), 2–8 bits, per tensor, channel or group; optional static int8 activations.",
                       availability: .available, fields: QuantizeOptions.fields,
                       decode: { .quantize(try QuantizeOptions.decode($0)) }),
        PassDescriptor(kind: .prune,
                       summary: "Unstructured or N:M weight pruning by magnitude or Wanda; exact sparsity is reported.",
                       availability: .available, fields: PruneOptions.fields,
                       decode: { .prune(try PruneOptions.decode($0)) }),
        PassDescriptor(kind: .pruneStructured,
                       summary: "Removes whole feed-forward neurons and attention heads; tensors shrink and the config records the new sizes. A layer loses neurons when `targets`/`ignore` select its feed-forward projections (`intermediate.dense`, `output.dense`), heads when they select its attention projections. Sentence encoders only.",
                       availability: .available, fields: StructuredPruneOptions.fields,
                       decode: { .pruneStructured(try StructuredPruneOptions.decode($0)) }),
        PassDescriptor(kind: .trimVocabulary,
                       summary: "Keeps the embedding rows of tokens found in a domain corpus plus the special tokens, and writes the trimmed vocab.txt.",
                       availability: .available, fields: TrimVocabularyOptions.fields,
                       decode: { .trimVocabulary(try TrimVocabularyOptions.decode($0)) }),
        PassDescriptor(kind: .distill,
                       summary: "Trains a smaller student from one or more teachers with weighted distillation losses.",
                       availability: .available,
                       fields: DistillOptions.fields, decode: { .distill(try DistillOptions.decode($0)) }),
        PassDescriptor(kind: .qat,
                       summary: "Quantization-aware training: a copy of the model trains against the model entering the stage with fake-quantized weights (straight-through estimator; with `lsq`, learned scales) and optionally int8 inputs, then is packed with the same scheme and the scales it trained with.",
                       availability: .available,
                       fields: QATOptions.fields, decode: { .qat(try QATOptions.decode($0)) }),
        PassDescriptor(kind: .mixedPrecision,
                       summary: "Chooses a bit width per layer from measured sensitivities to meet a size budget at the least predicted loss.",
                       availability: .available,
                       fields: MixedPrecisionOptions.fields, decode: { .mixedPrecision(try MixedPrecisionOptions.decode($0)) }),
    ]

    /// The descriptor of a pass. Every ``PassKind`` has one (checked by a test).
    public static func descriptor(for kind: PassKind) -> PassDescriptor {
        guard let descriptor = all.first(where: { $0.kind == kind }) else {
            preconditionFailure("PassRegistry.all lacks '\(kind.rawValue)'")
        }
        return descriptor
    }
}
