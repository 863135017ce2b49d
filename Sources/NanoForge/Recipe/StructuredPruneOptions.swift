/// Options of the `prune_structured` pass: removes whole feed-forward neurons and attention heads,
/// so tensors physically shrink.
public struct StructuredPruneOptions: Equatable {
    public enum Method: String, RecipeChoice { case l2, activation }

    public var method: Method = .l2
    /// Fraction of feed-forward (intermediate) neurons removed, in [0, 1).
    public var ffnRatio: Double = 0
    /// Fraction of attention heads removed, in [0, 1).
    public var headRatio: Double = 0
    public var scope: PruneOptions.Scope = .layer
    public var selector: LayerSelector

    static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "l2", allowed: RecipeField.choices(Method.self),
                    "Importance of a neuron or head: L2 norm of its weights, or its mean activation magnitude on calibration data."),
        RecipeField("ffn_ratio", "number", default: "0", allowed: "[0, 1)", "Fraction of feed-forward neurons to remove."),
        RecipeField("head_ratio", "number", default: "0", allowed: "[0, 1)",
                    "Fraction of attention heads to remove. At least one of ffn_ratio and head_ratio must be above 0."),
        RecipeField("scope", "string", default: "layer", allowed: RecipeField.choices(PruneOptions.Scope.self),
                    "Apply the ratio in every layer, or overall (layers then lose different amounts)."),
    ] + SelectionFields.fields(defaultTargets: ["*"])

    static func decode(_ node: RecipeNode) throws -> StructuredPruneOptions {
        let map = try node.mapping(fields)
        var options = StructuredPruneOptions(selector: try SelectionFields.decode(map, defaultTargets: ["*"]))
        options.method = try map.optional("method", default: .l2) { try $0.choice(Method.self) }
        options.ffnRatio = try map.optional("ffn_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        options.headRatio = try map.optional("head_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        options.scope = try map.optional("scope", default: .layer) { try $0.choice(PruneOptions.Scope.self) }
        guard options.ffnRatio > 0 || options.headRatio > 0 else {
            throw RecipeError.conflict(node.location, problem: "ffn_ratio and head_ratio are both 0, so nothing would be removed",
                                       hint: "set ffn_ratio or head_ratio above 0")
        }
        return options
    }
}
