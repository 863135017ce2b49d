import NanoModels
import Yams

/// The `prune_structured` pass: removes whole feed-forward neurons and attention heads of a
/// sentence encoder, so tensors physically shrink. Its settings decode straight into
/// `StructuredPruning.Configuration`.
public struct StructuredPrunePass: CompressionPass {
    public var configuration: StructuredPruning.Configuration
    public var selector: LayerSelector

    public init(configuration: StructuredPruning.Configuration, selector: LayerSelector) {
        self.configuration = configuration
        self.selector = selector
    }

    public static let key = "prune_structured"
    public static let summary = "Removes whole feed-forward neurons and attention heads; tensors shrink and the config records the new sizes. A layer loses neurons when `targets`/`ignore` select its feed-forward projections (`intermediate.dense`, `output.dense`), heads when they select its attention projections. Sentence encoders only."
    public static let shapeEffect = ShapeEffect.shrinks
    public static let prunesWeights = true
    public var layerSelection: LayerSelector? { selector }
    public var needsCalibration: Bool { configuration.importance == .activation }

    public static let fields: [RecipeField] = [
        RecipeField("method", "string", default: "l2", allowed: RecipeField.choices(StructuredPruning.Importance.self),
                    "Importance of a neuron or head: L2 norm of its weights, or its mean activation magnitude on calibration data."),
        RecipeField("ffn_ratio", "number", default: "0", allowed: "[0, 1)", "Fraction of feed-forward neurons to remove."),
        RecipeField("head_ratio", "number", default: "0", allowed: "[0, 1)",
                    "Fraction of attention heads to remove. At least one of ffn_ratio and head_ratio must be above 0."),
        RecipeField("scope", "string", default: "layer", allowed: RecipeField.choices(UnstructuredPruning.Scope.self),
                    "Apply the ratio in every layer, or overall (layers then lose different amounts)."),
    ] + SelectionFields.fields(defaultTargets: ["*"])

    public static func decode(_ node: RecipeNode) throws -> StructuredPrunePass {
        let map = try node.mapping(fields)
        let selector = try SelectionFields.decode(map, defaultTargets: ["*"])
        var configuration = StructuredPruning.Configuration()
        configuration.importance = try map.optional("method", default: .l2Norm) { try $0.choice(StructuredPruning.Importance.self) }
        configuration.feedForwardRatio = try map.optional("ffn_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.headRatio = try map.optional("head_ratio", default: 0) { try $0.number(.halfOpen(0, 1)) }
        configuration.global = try map.optional("scope", default: .layer) { try $0.choice(UnstructuredPruning.Scope.self) } == .global
        guard configuration.feedForwardRatio > 0 || configuration.headRatio > 0 else {
            throw RecipeError.conflict(node.location, problem: "ffn_ratio and head_ratio are both 0, so nothing would be removed",
                                       hint: "set ffn_ratio or head_ratio above 0")
        }
        return StructuredPrunePass(configuration: configuration, selector: selector)
    }

    public func encode() -> Node {
        RecipeEncoding.mapping { e in
            e.set("method", configuration.importance)
            e.set("ffn_ratio", configuration.feedForwardRatio)
            e.set("head_ratio", configuration.headRatio)
            e.set("scope", configuration.global ? UnstructuredPruning.Scope.global : .layer)
            SelectionFields.encode(selector, into: &e)
        }
    }

    public func run(on state: CompressionState, context: PassContext) throws -> String {
        let encoder = try state.model.sentenceEncoder(for: context.label, recipe: context.recipe.file).encoder
        // A layer loses neurons when the selector takes its feed-forward projections, heads when
        // it takes its attention projections.
        let selected = Set(selector.layers(Linear.self, in: encoder).map(\.name))
        func layers(_ suffixes: [String]) -> Set<Int> {
            Set(encoder.layers.indices.filter { i in suffixes.contains { selected.contains("encoder.layer.\(i)." + $0) } })
        }
        let ffLayers = layers(["intermediate.dense", "output.dense"])
        let headLayers = layers(["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"])
        if (configuration.feedForwardRatio > 0 && ffLayers.isEmpty) || (configuration.headRatio > 0 && headLayers.isEmpty) {
            throw context.nothingSelected
        }
        let norms = configuration.importance == .activation ? try context.inputNorms(state) : [:]
        do {
            let report = try StructuredPruning(configuration).apply(to: encoder, inputNorms: norms,
                                                                    feedForwardLayers: ffLayers, headLayers: headLayers)
            let widths = report.layers.map { "\($0.neuronsAfter)/\($0.headsAfter)" }.joined(separator: " ")
            return "removed \(report.parametersBefore - report.parametersAfter) parameters (\(report.parametersBefore) → \(report.parametersAfter)); neurons/heads per layer: \(widths)"
        } catch {
            throw context.failure("\(error)")
        }
    }
}

// The recipe spells the importance by its raw value (`l2`, `activation`).
extension StructuredPruning.Importance: RecipeChoice {}
