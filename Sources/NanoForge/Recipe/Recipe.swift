/// A decoded and validated recipe: what to compress, with which stages, measured how, written where.
///
/// Decoding needs no tensors and touches no files but the recipe: whether data paths exist is
/// checked by the pipeline. Strings become enums and typed options here, at the YAML edge.
public struct Recipe: Equatable {
    /// Export formats a recipe may ask for (issue 6).
    public enum ExportFormat: String, RecipeChoice { case safetensors, hdf5, onnx, gguf, c, tflite }

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
    public var stages: [RecipeStage]
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
                    "`dir`: output folder; `formats` (default [safetensors]): any of " + ExportFormat.allCases.map(\.rawValue).joined(separator: ", ") + ", written beside `model.safetensors` as `model.h5`, `model.onnx`, `model.gguf` (layers with ggml codes as they are, other matrices Q8_0) and `c/model.{h,c}` (MLP classifiers, int8 calibrated on `data.calibration`; Keras CNNs, the full-integer model of their `quantize` stage as measured) and `model.tflite` (the same integer models, int8 TFLite that LiteRT runs). Layouts: docs/formats.md."),
    ]

    /// A recipe built in code (tests, tools); ``load(contentsOf:)`` and ``init(yaml:file:)`` validate, this does not.
    public init(name: String, modelPath: String, stages: [RecipeStage], output: Output,
                file: String = "<recipe>", text: String = "") {
        self.name = name
        self.modelPath = modelPath
        self.stages = stages
        self.output = output
        self.file = file
        self.text = text
    }

    /// Reads, parses and validates the recipe at `path`.
    /// `outputDirectory` (`compress --output DIR`) stands for `output.dir`: a recipe run with it
    /// needs no `output` key.
    public static func load(contentsOf path: String, outputDirectory: String? = nil) throws -> Recipe {
        let (root, text) = try RecipeDocument.load(contentsOf: path)
        return try decode(root, text: text, outputDirectory: outputDirectory)
    }

    /// Parses and validates recipe text; `file` names it in errors.
    public init(yaml: String, file: String = "<recipe>", outputDirectory: String? = nil) throws {
        self = try Self.decode(try RecipeDocument.parse(yaml, file: file), text: yaml, outputDirectory: outputDirectory)
    }

    /// Throws ``RecipeError/notImplemented(_:pass:hint:)`` for the first stage the pipeline
    /// cannot run yet (a training pass of issue 5, or `prune` with a `schedule`). The pipeline
    /// calls this before loading the model; decoding alone accepts such recipes.
    public func requireRunnableStages() throws {
        for (index, stage) in stages.enumerated() {
            guard let reason = stage.unavailableReason else { continue }
            throw RecipeError.notImplemented(RecipeLocation(file: file, path: "stages[\(index)].\(stage.key)"),
                                             pass: stage.key, hint: reason)
        }
    }

    /// Decodes the whole document, collecting every error (an unknown top-level key, each bad
    /// stage, each bad section) instead of stopping at the first: one error is thrown as it is,
    /// several as ``RecipeErrors`` in file order. Cross-stage checks run when the parts decoded.
    private static func decode(_ root: RecipeNode, text: String, outputDirectory: String?) throws -> Recipe {
        guard case .mapping = root.node else {
            throw RecipeError.wrongType(root.location, expected: "a mapping with 'name', 'model', 'stages' and 'output'", found: root.found)
        }
        var errors: [RecipeError] = []
        func attempt<T>(_ body: () throws -> T) throws -> T? {
            do { return try body() } catch let error as RecipeError { errors.append(error); return nil }
        }
        let map = try root.mapping(keys: fields.map(\.name), collecting: &errors)
        let name = try attempt { try map.required("name").string() }
        let modelPath = try attempt { () -> (String, RecipeMapping) in
            let model = try map.required("model", hint: "e.g. model: {path: .cache/models/all-MiniLM-L6-v2}").mapping(keys: ["path", "allow_non_finite"])
            return (try model.required("path", hint: "add path: the checkpoint folder or file").string(), model)
        }
        let stageNodes = try attempt { () -> [RecipeNode] in
            let stagesNode = try map.required("stages", hint: "e.g. stages: [{quantize: {bits: 8}}]")
            let nodes = try stagesNode.list()
            guard !nodes.isEmpty else { throw RecipeError.outOfRange(stagesNode.location, allowed: "at least one stage", found: "an empty list") }
            return nodes
        } ?? []
        let stages = try stageNodes.map { node in try attempt { try RecipeStage.decode(node) } }
        let output = try attempt { () -> Output in
            guard let outputNode = outputDirectory == nil ? try map.required("output", hint: "e.g. output: {dir: out/run}") : map.optional("output") else {
                return Output(directory: outputDirectory!)
            }
            let outputMap = try outputNode.mapping(keys: ["dir", "formats"])
            var output = Output(directory: try outputDirectory ?? outputMap.required("dir").string())
            if let formats = outputMap.optional("formats") {
                output.formats = try formats.list().map { try $0.choice(ExportFormat.self) }
            }
            return output
        }
        let allowNonFinite = try attempt { try modelPath?.1.optional("allow_non_finite", default: false) { try $0.bool() } ?? false }
        let seed = try attempt { try map.optional("seed", default: 0) { UInt64(try $0.int(atLeast: 0)) } }
        let calibration = try attempt { () -> Calibration? in
            guard let data = map.optional("data") else { return nil }
            let dataMap = try data.mapping(keys: ["calibration"])
            guard let calibration = dataMap.optional("calibration") else { return nil }
            let sub = try calibration.mapping(keys: ["path", "samples"])
            return Calibration(path: try sub.required("path").string(),
                               samples: try sub.optional("samples", default: 128) { try $0.int(atLeast: 1) })
        }
        let evaluation = try attempt { try map.optional("evaluation", default: []) { try $0.list().map(EvaluationConfiguration.decode) } }
        guard errors.isEmpty, let name, let modelPath, let output, let allowNonFinite, let seed, let calibration, let evaluation else {
            throw RecipeErrors.throwing(errors)
        }
        var recipe = Recipe(name: name, modelPath: modelPath.0, stages: stages.compactMap { $0 }, output: output, file: root.file, text: text)
        recipe.allowNonFinite = allowNonFinite
        recipe.seed = seed
        recipe.calibration = calibration
        recipe.evaluation = evaluation
        try RecipeValidation.check(recipe, stageNodes: stageNodes)
        try recipe.checkOutputDirectory(root: nil)
        return recipe
    }
}

/// Several problems in one recipe, in file order (a missing key, which has no place of its own,
/// after the others; a missing key that a misspelt one meant is not reported twice): what `Recipe` throws when more than one part of the file is wrong. Each
/// is one ``RecipeError`` line, as a compiler lists its errors.
public struct RecipeErrors: Error, Equatable, CustomStringConvertible {
    public let errors: [RecipeError]

    /// The one error itself, or all of them sorted into file order.
    static func throwing(_ errors: [RecipeError]) -> Error {
        // A misspelt key also leaves the key it meant missing: one mistake, reported once.
        let meant = Set(errors.compactMap { e -> String? in
            if case let .unknownKey(location, _, _, suggestion?) = e {
                return (location.path.split(separator: ".").dropLast() + [Substring(suggestion)]).joined(separator: ".")
            }
            return nil
        })
        let errors = errors.filter { e in
            if case .missingKey = e { return !meant.contains(e.path) }
            return true
        }
        if errors.count == 1 { return errors[0] }
        func position(_ e: RecipeError) -> (Int, Int) {
            if case .missingKey = e { return (Int.max, 0) }
            return (e.location.line ?? Int.max, e.location.column ?? 0)
        }
        let ordered = errors.enumerated().sorted { a, b in
            let (pa, pb) = (position(a.element), position(b.element))
            return (pa.0, pa.1, a.offset) < (pb.0, pb.1, b.offset)
        }.map(\.element)
        return RecipeErrors(errors: ordered)
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
