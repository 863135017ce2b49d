import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// Runs a recipe: loads the model, measures the baseline, applies each stage and measures again,
/// then writes the compressed model and the report. Output goes to a temporary folder that is
/// renamed into place at the end, so a failed run leaves no half-written output.
public struct Pipeline {
    public let recipe: Recipe
    public var progress: (String) -> Void
    /// Called as each step starts: (steps done, all steps, what starts now). The steps are the
    /// baseline measurement, then each stage and its measurement, then writing the output.
    public var step: (_ done: Int, _ total: Int, _ name: String) -> Void = { _, _, _ in }
    /// Writes `output.formats` other than safetensors into the finished output folder (before it
    /// is renamed into place) from the compressed model in memory: NanoExport's
    /// `ModelExporter.write(_:formats:calibration:into:)`, which the CLI wires in.
    public var exporter: ((_ folder: String, _ compressed: CompressedModel, _ recipe: Recipe) throws -> Void)?
    /// Training stages continue from their last checkpoint (`<output dir>.checkpoints/stage-<i>/`).
    public var resume = false

    /// `--root`: output folders (the recipe's or `run`'s) must lie inside it (``OutputPathCheck``).
    public var outputRoot: String?

    public init(recipe: Recipe, progress: @escaping (String) -> Void = { _ in }) {
        self.recipe = recipe
        self.progress = progress
    }

    /// Sentences timed for the latency figures (the first calibration or evaluation sentences).
    static let latencySentences = 32

    @discardableResult
    public func run(outputDirectory: String? = nil) throws -> CompressionReport {
        try recipe.requireRunnableStages()
        try checkFiles()
        try checkBeforeLoading(outputDirectory: outputDirectory)
        let start = ContinuousClock.now
        let outputFolder = outputDirectory ?? recipe.output.directory
        let steps = 2 * recipe.stages.count + 2
        // The reference model lives only inside `compress`: it is released before the output is
        // packed and encoded, which is where a run's memory would otherwise peak.
        let (state, report) = try compress(steps: steps, outputFolder: outputFolder)
        MemoryRelease.returnFreePages()
        try ModelOutput(recipe: recipe, state: state, report: report, exporter: exporter).write(to: outputFolder)
        step(steps, steps, "done")
        progress("done in \(String(format: "%.1f", Self.seconds(since: start))) s")
        return report
    }

    /// Loads the model, measures the baseline, runs and measures each stage, and measures the
    /// per-layer errors against the reference: everything but writing the output.
    private func compress(steps: Int, outputFolder: String) throws -> (CompressionState, CompressionReport) {
        progress("loading \(recipe.modelPath)")
        let loaded = try EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file)
        // The reference shares every tensor with the working model until a stage replaces it.
        let reference = try loaded.model.sharingCopy() ?? EvaluatedModel.load(path: recipe.modelPath, recipe: recipe.file).model
        let state = CompressionState(model: loaded.model)
        // A model compressed before keeps its packed layers and activation scales.
        state.quantized = loaded.quantized
        state.ggmlQuantized = loaded.ggmlQuantized
        state.activationQuantization = loaded.activations
        let calibration = try recipe.calibration.map { try EvaluationData.inputs($0.path, limit: $0.samples) } ?? []
        let timing = try latencyInputs(calibration)
        var evaluation = StageEvaluation(tasks: tasks, reference: reference, timing: timing, log: progress)
        step(0, steps, "measuring baseline")
        var stages = [try evaluation.measure(state, name: "baseline", pass: nil, seconds: 0)]
        for (index, stage) in recipe.stages.enumerated() {
            progress("stage \(index + 1)/\(recipe.stages.count): \(stage.key)")
            step(1 + 2 * index, steps, "stage \(index + 1)/\(recipe.stages.count) \(stage.key)")
            let stageStart = ContinuousClock.now
            state.training = nil
            var context = PassContext(recipe: recipe, index: index, key: stage.key, calibration: calibration, log: progress)
            (context.tasks, context.reference) = (tasks, reference)
            (context.resume, context.checkpointRoot) = (resume, Self.checkpointRoot(outputFolder))
            let summary = try stage.pass.run(on: state, context: context)
            let seconds = Self.seconds(since: stageStart)
            progress("stage \(index + 1)/\(recipe.stages.count): \(summary) (\(String(format: "%.1f", seconds)) s)")
            step(2 + 2 * index, steps, "measuring stage \(index + 1)/\(recipe.stages.count) \(stage.key)")
            stages.append(try evaluation.measure(state, name: "\(index + 1):\(stage.key)", pass: stage.key,
                                                 seconds: seconds))
        }
        step(steps - 1, steps, "per-layer errors and output")
        MemoryRelease.returnFreePages()
        let outputErrors = try calibration.isEmpty ? [:] : LayerOutputError.measure(state, reference: reference,
            calibration: CalibrationData(inputs: calibration, model: state.model, file: recipe.calibration?.path ?? ""))
        let report = CompressionReport(recipe: recipe.name, model: recipe.modelPath, stages: stages,
                                       layers: layerReports(state, outputErrors: outputErrors), mixedPrecision: state.mixedPrecision)
        return (state, report)
    }

    /// Where training stages keep their checkpoints: beside the output folder, so writing the
    /// output (a rename into place) never touches them.
    public static func checkpointRoot(_ outputDirectory: String) -> String {
        var folder = outputDirectory
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        return folder + ".checkpoints"
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Every file the recipe names must exist before any work starts.
    func checkFiles() throws {
        func require(_ path: String?, _ field: String) throws {
            guard let path else { return }
            guard FileManager.default.fileExists(atPath: path) else {
                throw PipelineError.missingFile(recipe: recipe.file, field: field, path: path)
            }
        }
        try require(recipe.modelPath, "model.path")
        try require(recipe.calibration?.path, "data.calibration.path")
        for (i, task) in recipe.evaluation.enumerated() {
            try require(task.data, "evaluation[\(i)].data")
            try require(task.train, "evaluation[\(i)].train")
            try require(task.test, "evaluation[\(i)].test")
        }
        for (i, stage) in recipe.stages.enumerated() {
            for (field, path) in stage.pass.inputFiles { try require(path, "stages[\(i)].\(stage.key).\(field)") }
        }
    }

    /// The evaluation tasks of the recipe in the evaluation layer's terms.
    var tasks: [EvaluationTask] {
        recipe.evaluation.compactMap { e in
            switch e.task {
            case .fidelity: return e.data.map { .fidelity(data: $0, limit: e.limit) }
            case .retrieval: return e.data.map { .retrieval(data: $0, limit: e.limit) }
            case .classification:
                guard let train = e.train, let test = e.test else { return nil }
                return .classification(train: train, test: test)
            case .similarity: return e.data.map { .similarity(data: $0) }
            case .perplexity: return e.data.map { .perplexity(data: $0, limit: e.limit, context: e.context) }
            case .klDivergence: return e.data.map { .klDivergence(data: $0, limit: e.limit, context: e.context) }
            }
        }
    }

    /// Inputs timed for the latency figures: the first calibration inputs, else the first lines
    /// of a fidelity (or, for decoders, perplexity or kl_divergence) file.
    func latencyInputs(_ calibration: [String]) throws -> [String] {
        if calibration.count >= Self.latencySentences { return Array(calibration.prefix(Self.latencySentences)) }
        for e in recipe.evaluation {
            if [.fidelity, .perplexity, .klDivergence].contains(e.task), let data = e.data { return try EvaluationData.inputs(data, limit: Self.latencySentences) }
        }
        guard !calibration.isEmpty else {
            throw PipelineError.missingFile(recipe: recipe.file, field: "data.calibration or a fidelity evaluation",
                                            path: "(none given: latency needs example inputs)")
        }
        return calibration
    }

    /// Every Linear layer, then every quantized embedding table; for a full-integer CNN, its
    /// convolutions (`IntegerCNN.layerReports`).
    func layerReports(_ state: CompressionState, outputErrors: [String: Double]) -> [LayerReport] {
        if let integer = state.integerCNN { return integer.layerReports }
        let linear = state.linearLayers.map { (name: $0.name, kind: "Linear", weight: $0.layer.weight.value) }
        let embeddings = state.model.embeddingLayers.filter { state.quantized[$0.name] != nil || state.ggmlQuantized[$0.name] != nil }
            .map { (name: $0.name, kind: "Embedding", weight: $0.layer.weight.value) }
        return (linear + embeddings).map { name, kind, w in
            let zeros = w.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
            let q = state.quantized[name]
            var groupSize: Int? = nil
            if case .group(let size)? = q?.scheme.granularity { groupSize = size }
            let ggml = state.ggmlQuantized[name]?.type
            return LayerReport(name: name, kind: kind, shape: w.shape, bits: q?.scheme.bits, groupSize: groupSize,
                               sparsity: w.count > 0 ? Double(zeros) / Double(w.count) : 0,
                               relativeWeightError: state.weightErrors[name], relativeOutputError: outputErrors[name],
                               activationBits: state.activationQuantization[name]?.bits,
                               ggmlType: ggml?.name, ggmlFallbackFrom: ggml == nil ? nil : state.ggmlFallbacks[name]?.name)
        }
    }
}
