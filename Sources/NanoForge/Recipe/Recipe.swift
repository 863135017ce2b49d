/// A decoded and validated recipe: what to compress, with which stages, measured how, written where.
///
/// Decoding needs no tensors and touches no files but the recipe: whether data paths exist is
/// checked by the pipeline. Strings become enums and typed options here, at the YAML edge.
public struct Recipe: Equatable {
    /// Export formats a recipe may ask for (issue 6).
    public enum ExportFormat: String, RecipeChoice { case safetensors, hdf5, onnx, gguf, c }

    /// Calibration sentences for passes that observe activations.
    public struct Calibration: Equatable {
        public var path: String
        public var samples = 128
    }

    /// Where the compressed model and the report go.
    public struct Output: Equatable {
        public var directory: String
        public var formats: [ExportFormat] = [.safetensors]
    }

    public var name: String
    /// The checkpoint: a folder with config.json and weights, or a file.
    public var modelPath: String
    /// `model.allow_non_finite`: compress a checkpoint holding NaN or ±Inf weights instead of refusing it.
    public var allowNonFinite = false
    public var seed: UInt64 = 0
    public var calibration: Calibration?
    public var evaluation: [EvaluationConfiguration] = []
    public var stages: [StageConfiguration]
    public var output: Output
    /// The file the recipe was read from (for errors and provenance).
    public var file: String
    /// The recipe text as written (copied into the output and export metadata).
    public var text: String

    static let fields: [RecipeField] = [
        RecipeField("name", "string", required: true, allowed: "any", "The run's name, shown in reports."),
        RecipeField("model", "mapping", required: true, allowed: "{path, allow_non_finite}",
                    "`path`: the checkpoint folder (config.json + weights) or file; `allow_non_finite` (default false): compress weights holding NaN or ±Inf instead of refusing them."),
        RecipeField("seed", "integer", default: "0", allowed: "≥ 0", "Seed for every random choice (calibration sampling, training)."),
        RecipeField("data", "mapping", allowed: "{calibration: {path, samples}}",
                    "`calibration.path`: one input a line (a sentence, or a classifier's features; of `label<TAB>input` lines the last field); `calibration.samples` (default 128, ≥ 1): how many are used."),
        RecipeField("evaluation", "list of mappings", default: "[]", allowed: "tasks (below)", "Tasks measured on the baseline and after each stage."),
        RecipeField("stages", "list of mappings", required: true, allowed: "one pass per item", "The passes, in order: `- <pass>: {options}`."),
        RecipeField("output", "mapping", required: true, allowed: "{dir, formats}",
                    "`dir`: output folder; `formats` (default [safetensors]): any of " + ExportFormat.allCases.map(\.rawValue).joined(separator: ", ") + ", written beside `model.safetensors` as `model.h5`, `model.onnx`, `model.gguf` (Q8_0) and `c/model.{h,c}` (MLP classifiers; int8, calibrated on `data.calibration`). Layouts: docs/formats.md."),
    ]

    /// A recipe built in code (tests, tools); ``load(contentsOf:)`` and ``init(yaml:file:)`` validate, this does not.
    public init(name: String, modelPath: String, stages: [StageConfiguration], output: Output,
                file: String = "<recipe>", text: String = "") {
        self.name = name
        self.modelPath = modelPath
        self.stages = stages
        self.output = output
        self.file = file
        self.text = text
    }

    /// Reads, parses and validates the recipe at `path`.
    public static func load(contentsOf path: String) throws -> Recipe {
        let (root, text) = try RecipeDocument.load(contentsOf: path)
        return try decode(root, text: text)
    }

    /// Parses and validates recipe text; `file` names it in errors.
    public init(yaml: String, file: String = "<recipe>") throws {
        self = try Self.decode(try RecipeDocument.parse(yaml, file: file), text: yaml)
    }

    /// Throws ``RecipeError/notImplemented(_:pass:hint:)`` for the first stage the pipeline
    /// cannot run yet (a training pass of issue 5, or `prune` with a `schedule`). The pipeline
    /// calls this before loading the model; decoding alone accepts such recipes.
    public func requireRunnableStages() throws {
        for (index, stage) in stages.enumerated() {
            guard let reason = stage.unavailableReason else { continue }
            throw RecipeError.notImplemented(RecipeLocation(file: file, path: "stages[\(index)].\(stage.kind.rawValue)"),
                                             pass: stage.kind.rawValue, hint: reason)
        }
    }

    private static func decode(_ root: RecipeNode, text: String) throws -> Recipe {
        guard case .mapping = root.node else {
            throw RecipeError.wrongType(root.location, expected: "a mapping with 'name', 'model', 'stages' and 'output'", found: root.found)
        }
        let map = try root.mapping(fields)
        let name = try map.required("name").string()
        let model = try map.required("model", hint: "e.g. model: {path: .cache/models/all-MiniLM-L6-v2}").mapping(keys: ["path", "allow_non_finite"])
        let modelPath = try model.required("path", hint: "add path: the checkpoint folder or file").string()

        let stagesNode = try map.required("stages", hint: "e.g. stages: [{quantize: {bits: 8}}]")
        let stageNodes = try stagesNode.list()
        guard !stageNodes.isEmpty else {
            throw RecipeError.outOfRange(stagesNode.location, allowed: "at least one stage", found: "an empty list")
        }
        let outputMap = try map.required("output", hint: "e.g. output: {dir: out/run}").mapping(keys: ["dir", "formats"])
        var output = Output(directory: try outputMap.required("dir").string())
        if let formats = outputMap.optional("formats") {
            output.formats = try formats.list().map { try $0.choice(ExportFormat.self) }
        }
        var recipe = Recipe(name: name, modelPath: modelPath, stages: try stageNodes.map(StageConfiguration.decode),
                            output: output, file: root.file, text: text)
        recipe.allowNonFinite = try model.optional("allow_non_finite", default: false) { try $0.bool() }
        recipe.seed = try map.optional("seed", default: 0) { UInt64(try $0.int(atLeast: 0)) }
        if let data = map.optional("data") {
            let dataMap = try data.mapping(keys: ["calibration"])
            if let calibration = dataMap.optional("calibration") {
                let sub = try calibration.mapping(keys: ["path", "samples"])
                recipe.calibration = Calibration(path: try sub.required("path").string(),
                                                 samples: try sub.optional("samples", default: 128) { try $0.int(atLeast: 1) })
            }
        }
        recipe.evaluation = try map.optional("evaluation", default: []) { try $0.list().map(EvaluationConfiguration.decode) }
        try RecipeValidation.check(recipe, stageNodes: stageNodes)
        try recipe.checkOutputDirectory(root: nil)
        return recipe
    }
}
