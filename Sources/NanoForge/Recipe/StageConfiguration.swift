import Yams

/// The passes a recipe can name, by their recipe key.
public enum PassKind: String, RecipeChoice {
    case quantize
    case prune
    case pruneStructured = "prune_structured"
    case trimVocabulary = "trim_vocabulary"
    case distill
    case qat
    case mixedPrecision = "mixed_precision"
}

/// One decoded stage: the pass and its typed, validated options.
public enum StageConfiguration: Equatable {
    case quantize(QuantizeOptions)
    case prune(PruneOptions)
    case pruneStructured(StructuredPruneOptions)
    case trimVocabulary(TrimVocabularyOptions)
    case distill(DistillOptions)
    case qat(QATOptions)
    case mixedPrecision(MixedPrecisionOptions)

    /// Which pass this stage runs.
    public var kind: PassKind {
        switch self {
        case .quantize: return .quantize
        case .prune: return .prune
        case .pruneStructured: return .pruneStructured
        case .trimVocabulary: return .trimVocabulary
        case .distill: return .distill
        case .qat: return .qat
        case .mixedPrecision: return .mixedPrecision
        }
    }

    /// Whether this stage trains the model (and so needs the shared training loop).
    public var trains: Bool {
        switch self {
        case .distill, .qat: return true
        case let .prune(options): return options.schedule != nil
        case .quantize, .pruneStructured, .trimVocabulary, .mixedPrecision: return false
        }
    }

    /// Why the pipeline cannot run this stage yet, or nil when it can (the registry marks whole
    /// passes).
    public var unavailableReason: String? {
        if case let .notImplemented(reason) = PassRegistry.descriptor(for: kind).availability { return reason }
        return nil
    }

    /// Decodes a stage item: a mapping with exactly one key, the pass name, whose value is the
    /// pass's options (`- quantize: {bits: 4}`; `- trim_vocabulary: {corpus: …}`).
    static func decode(_ node: RecipeNode) throws -> StageConfiguration {
        guard case let .mapping(mapping) = node.node else {
            throw RecipeError.wrongType(node.location, expected: "a mapping with one pass name, e.g. '- quantize: {bits: 8}'",
                                        found: node.found)
        }
        let names = PassKind.allCases.map(\.rawValue)
        guard mapping.count == 1, let (key, _) = mapping.first(where: { _ in true }) else {
            let keys = mapping.keys.compactMap(\.string)
            throw RecipeError.conflict(node.location,
                                       problem: mapping.isEmpty ? "a stage with no pass" : "a stage names \(keys.count) passes (\(keys.joined(separator: ", ")))",
                                       hint: "give each pass its own '- ' list item")
        }
        let name = key.string ?? ""
        guard let kind = PassKind(rawValue: name) else {
            throw RecipeError.unknownPass(RecipeNode.location(of: key, file: node.file, path: node.path.appending(name)),
                                          name: name, allowed: names, suggestion: NameSuggestion.nearest(to: name, in: names))
        }
        let options = try node.mapping(keys: names)
        // `- quantize:` with nothing after it means all defaults.
        let body = options.values[name].flatMap { $0.isNull ? nil : $0 }
            ?? RecipeNode(node: .mapping(Node.Mapping([])), path: node.path.appending(name), file: node.file)
        return try PassRegistry.descriptor(for: kind).decode(body)
    }
}
