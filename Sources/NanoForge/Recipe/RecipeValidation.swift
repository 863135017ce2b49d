/// Rules that span stages or sections, checked after each part has decoded on its own.
///
/// Decisions:
/// - Quantizing twice is an error: the second `quantize` would re-quantize dequantized values
///   and compound the error without saving bytes. `mixed_precision` also quantizes, so it counts.
/// - Passes that observe activations (GPTQ, Wanda, activation-based structured pruning,
///   activation quantization, mixed precision) need `data.calibration`.
/// - Pruning after quantization is an error: masks would be chosen on rounded weights and the
///   packed form would have to be rebuilt; prune first.
/// - Training stages (`distill`, `qat`, scheduled `prune`) after an export-type stage would be a
///   contradiction; there is no export stage yet (export is `output.formats`), so the hook is
///   ``exportStageKinds``, empty today.
enum RecipeValidation {
    /// Stages after which the model is frozen into a deployable form.
    static let exportStageKinds: Set<PassKind> = []

    static func check(_ recipe: Recipe, stageNodes: [RecipeNode]) throws {
        var quantizedAt: Int?
        var exportedAt: Int?
        for (index, stage) in recipe.stages.enumerated() {
            let node = stageNodes[index]
            let quantizes = stage.kind == .quantize || stage.kind == .mixedPrecision || stage.kind == .qat
            if quantizes, let earlier = quantizedAt {
                throw RecipeError.conflict(node.location,
                                           problem: "stage \(index) quantizes again after stage \(earlier) (\(recipe.stages[earlier].kind.rawValue))",
                                           hint: "keep one quantizing stage")
            }
            if (stage.kind == .prune || stage.kind == .pruneStructured), let earlier = quantizedAt {
                throw RecipeError.conflict(node.location, problem: "stage \(index) prunes weights already quantized in stage \(earlier)",
                                           hint: "prune before quantizing")
            }
            if stage.trains, let earlier = exportedAt {
                throw RecipeError.conflict(node.location, problem: "stage \(index) trains after the export in stage \(earlier)",
                                           hint: "move training stages before the export")
            }
            if needsCalibration(stage), recipe.calibration == nil {
                throw RecipeError.missingKey(RecipeLocation(file: recipe.file, path: "data.calibration",
                                                            line: node.location.line, column: node.location.column),
                                             key: "calibration",
                                             hint: "stages[\(index)] (\(stage.kind.rawValue)) observes activations; add data: {calibration: {path: …}}")
            }
            if quantizes { quantizedAt = index }
            if exportStageKinds.contains(stage.kind) { exportedAt = index }
        }
    }

    /// Whether the stage needs calibration activations.
    static func needsCalibration(_ stage: StageConfiguration) -> Bool {
        switch stage {
        case let .quantize(options): return options.method == .gptq || options.activations.map { $0.mode == .static } ?? false
        case let .prune(options): return options.method == .wanda
        case let .pruneStructured(options): return options.method == .activation
        case .mixedPrecision: return true
        case .trimVocabulary, .distill, .qat: return false
        }
    }
}
