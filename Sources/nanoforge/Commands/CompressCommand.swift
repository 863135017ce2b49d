import ArgumentParser
import Foundation
import NanoExport
import NanoForge
import NanoQuant

/// `nanoforge compress RECIPE`: runs a recipe end to end.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress a model as a recipe says, measuring every stage; writes the model and report.json/md/html.",
        discussion: "Recipe fields: docs/recipes.md. Exit codes: 0 success, 2 bad input (recipe, checkpoint, data), 1 anything else.")

    @Argument(help: "The recipe (YAML).")
    var recipe: String

    @Option(help: "Output folder (default: the recipe's output.dir).")
    var output: String?

    @Option(help: "Override the recipe's seed.")
    var seed: UInt64?

    @Flag(help: "Continue training stages from their last checkpoint in <output>.checkpoints/stage-<i>/.")
    var resume = false

    @Option(help: "Refuse output folders (output.dir or --output) outside this folder.")
    var root: String?

    func run() throws {
        try CLIErrors.reporting {
            var recipe = try Recipe.load(contentsOf: self.recipe, outputDirectory: output)
            if let seed { recipe.seed = seed }
            let bar = StepProgress()
            var pipeline = Pipeline(recipe: recipe) { line in bar.log("[\(Self.clock())] \(line)") }
            pipeline.resume = resume
            pipeline.step = { done, total, name in bar.update(done, total, name) }
            pipeline.exporter = Self.export(folder:compressed:recipe:)
            pipeline.outputRoot = root
            let report = try pipeline.run(outputDirectory: output)
            bar.finish()
            let folder = output ?? recipe.output.directory
            print(MarkdownReport.render(report))
            // The folder's own listing: what was written depends on the model and output.formats.
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            print("wrote \(folder)/ (\(files.joined(separator: ", ")))")
        }
    }

    /// The pipeline's exporter: the recipe's other `output.formats` from the compressed model in
    /// memory, C calibrated on the recipe's calibration rows.
    static func export(folder: String, compressed: CompressedModel, recipe: Recipe) throws {
        let calibration = try recipe.output.formats.contains(.c) ? recipe.calibration.map { try EvaluationData.featureRows($0.path) } : nil
        try ModelExporter.write(compressed, formats: recipe.output.formats.map(\.rawValue), calibration: calibration, into: folder)
    }

    static func clock() -> String {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        return f.string(from: Date())
    }
}
