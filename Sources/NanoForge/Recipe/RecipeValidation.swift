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
///   ``exportStageKeys``, empty today.
///
/// What each pass does comes from the pass itself (``CompressionPass/quantizesWeights``,
/// ``CompressionPass/prunesWeights``, ``CompressionPass/trains``,
/// ``CompressionPass/needsCalibration``): no list of pass names here.
enum RecipeValidation {
    /// Keys of the passes after which the model is frozen into a deployable form.
    static let exportStageKeys: Set<String> = []

    static func check(_ recipe: Recipe, stageNodes: [RecipeNode]) throws {
        var quantizedAt: Int?
        var exportedAt: Int?
        for (index, stage) in recipe.stages.enumerated() {
            let node = stageNodes[index]
            let quantizes = type(of: stage.pass).quantizesWeights
            if quantizes, let earlier = quantizedAt {
                throw RecipeError.conflict(node.location,
                                           problem: "stage \(index) quantizes again after stage \(earlier) (\(recipe.stages[earlier].key))",
                                           hint: "keep one quantizing stage")
            }
            if type(of: stage.pass).prunesWeights, let earlier = quantizedAt {
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
                                             hint: "stages[\(index)] (\(stage.key)) observes activations; add data: {calibration: {path: …}}")
            }
            if quantizes { quantizedAt = index }
            if exportStageKeys.contains(stage.key) { exportedAt = index }
        }
    }

    /// Whether the stage needs calibration activations.
    static func needsCalibration(_ stage: RecipeStage) -> Bool { stage.pass.needsCalibration }
}
