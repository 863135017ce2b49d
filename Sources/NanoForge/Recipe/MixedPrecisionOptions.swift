/// Options of the `mixed_precision` pass: a bit width per layer, chosen from measured
/// sensitivities to meet a size budget at the least predicted loss (see `MixedPrecisionPass`).
public struct MixedPrecisionOptions: Equatable {
    /// The size target: exactly one of packed megabytes or average bits per weight.
    public enum Budget: Equatable {
        case sizeMB(Double)
        case averageBits(Double)
    }

    /// Candidate bit widths, ascending and distinct, each in 2…8.
    public var candidates: [Int] = [2, 3, 4, 8]
    public var budget: Budget
    public var method: QuantizeOptions.Method = .rtn
    /// Group size for every candidate; nil for per-channel.
    public var groupSize: Int? = 128
    public var selector: LayerSelector

    static let fields: [RecipeField] = [
        RecipeField("candidates", "list of integers", default: "[2, 3, 4, 8]", allowed: "distinct, each 2…8", "Bit widths a layer may get."),
        RecipeField("budget", "mapping", required: true, allowed: "{size_mb: > 0} or {average_bits: within the candidates}",
                    "The size target, exactly one of the two keys."),
        RecipeField("method", "string", default: "rtn", allowed: RecipeField.choices(QuantizeOptions.Method.self),
                    "Quantizer used for sensitivities and the final result."),
        RecipeField("group_size", "integer", default: "128", allowed: "≥ 1", "Group size of every candidate."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"])

    static func decode(_ node: RecipeNode) throws -> MixedPrecisionOptions {
        let map = try node.mapping(fields)
        var candidates = [2, 3, 4, 8]
        if let candidatesNode = map.optional("candidates") {
            candidates = try candidatesNode.list().map { try $0.int(2...8) }
            guard !candidates.isEmpty, Set(candidates).count == candidates.count else {
                throw RecipeError.outOfRange(candidatesNode.location, allowed: "a non-empty list of distinct bit widths", found: "\(candidates)")
            }
            candidates.sort()
        }
        let budgetNode = try map.required("budget", hint: "e.g. budget: {size_mb: 8}")
        let budgetMap = try budgetNode.mapping(keys: ["size_mb", "average_bits"])
        let budget: Budget
        switch (budgetMap.optional("size_mb"), budgetMap.optional("average_bits")) {
        case let (size?, nil): budget = .sizeMB(try size.number(.greaterThan(0)))
        case let (nil, bits?):
            budget = .averageBits(try bits.number(.closed(Double(candidates.first ?? 2), Double(candidates.last ?? 8))))
        default:
            throw RecipeError.conflict(budgetNode.location, problem: "budget needs exactly one of size_mb and average_bits",
                                       hint: "give size_mb or average_bits, not both or neither")
        }
        var options = MixedPrecisionOptions(candidates: candidates, budget: budget,
                                            selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]))
        options.method = try map.optional("method", default: .rtn) { try $0.choice(QuantizeOptions.Method.self) }
        options.groupSize = try map.optional("group_size", default: 128) { try $0.int(atLeast: 1) }
        return options
    }
}
