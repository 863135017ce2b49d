/// Options of the `qat` pass (issue 5): quantization-aware fine-tuning with fake quantization and
/// the straight-through estimator, against the pre-QAT model as teacher (see `StageRunner.qat`).
public struct QATOptions: Equatable {
    public var bits = 4
    public var symmetric = true
    /// Group size for group-wise scales; nil for per-channel.
    public var groupSize: Int?
    /// Learn the step sizes (LSQ, Esser et al., 2020).
    public var lsq = false
    /// Also fake-quantize Linear inputs to int8.
    public var activations = false
    public var selector: LayerSelector
    public var training: TrainingOptions

    static let fields: [RecipeField] = [
        RecipeField("bits", "integer", default: "4", allowed: "2…8", "Weight bit width."),
        RecipeField("symmetric", "boolean", default: "true", allowed: "true | false", "Symmetric or asymmetric weights."),
        RecipeField("group_size", "integer", allowed: "≥ 1", "Group-wise scales of this size; per-channel when absent."),
        RecipeField("lsq", "boolean", default: "false", allowed: "true | false", "Learn the weight scales with LSQ (Esser et al.): initialised to min-max, trained by AdamW beside the weights, used to pack."),
        RecipeField("activations", "boolean", default: "false", allowed: "true | false", "Fake-quantize Linear inputs to int8 too."),
    ] + SelectionFields.fields(defaultTargets: ["Linear"]) + TrainingOptions.fields

    static func decode(_ node: RecipeNode) throws -> QATOptions {
        let map = try node.mapping(fields)
        var options = QATOptions(selector: try SelectionFields.decode(map, defaultTargets: ["Linear"]),
                                 training: try TrainingOptions.decode(map))
        options.bits = try map.optional("bits", default: 4) { try $0.int(2...8) }
        options.symmetric = try map.optional("symmetric", default: true) { try $0.bool() }
        options.groupSize = try map.optional("group_size").map { try $0.int(atLeast: 1) }
        options.lsq = try map.optional("lsq", default: false) { try $0.bool() }
        options.activations = try map.optional("activations", default: false) { try $0.bool() }
        return options
    }
}
