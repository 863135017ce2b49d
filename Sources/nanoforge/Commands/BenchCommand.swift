import ArgumentParser
import Foundation

/// `nanoforge bench SUITE`: prints figures and writes JSON under bench/results/.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark suite against its reference in the same run and write bench/results/SUITE.json.")

    enum Suite: String, ExpressibleByArgument, CaseIterable { case core, minilm, quantize, distill, memory }

    @Argument(help: "The suite to run: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite

    @Option(help: "Folder for the JSON results.")
    var output = "bench/results"

    @Option(help: "Python with numpy (reference GFLOP/s).")
    var python = "python3"

    @Option(help: "Python with torch (reference training step); skipped when it cannot import torch.")
    var torchPython = ".venv-bench/bin/python"

    @Option(help: "Model folder for the minilm suite.")
    var model = ".cache/models/all-MiniLM-L6-v2"

    @Option(help: "Sentences for the minilm suite, one per line.")
    var sentences = ".cache/data/pydoc-sentences.txt"

    @Option(help: "Recipes for the quantize suite, run in this order in one process.")
    var recipes = ["Recipes/minilm-int4-rtn.yaml", "Recipes/minilm-int4-gptq.yaml"]

    @Option(help: "Recipe whose distill stage the distill suite times (its model is the teacher).")
    var distillRecipe = "Recipes/minilm-nano.yaml"
    @Option(help: "Recipe whose `compress` peak memory the memory suite measures.")
    var memoryRecipe = "Recipes/minilm-int8.yaml"

    @Option(help: "Threads for the timed work (ours and the references).")
    var threads = 2

    func run() throws {
        switch suite {
        case .core:
            let result = try CoreBenchmark(python: python, torchPython: torchPython, threads: threads).run()
            try BenchmarkOutput.write(result, to: output + "/core.json")
        case .minilm:
            try CLIErrors.reporting {
                let result = try MiniLMBenchmark(model: model, sentences: sentences, torchPython: torchPython, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/minilm.json")
            }
        case .quantize:
            try CLIErrors.reporting {
                let result = try QuantizeBenchmark(recipes: recipes, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/quantize.json")
            }
        case .distill:
            try CLIErrors.reporting {
                let result = try DistillBenchmark(recipe: distillRecipe, torchPython: torchPython, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/distill.json")
            }
        case .memory:
            try CLIErrors.reporting {
                let result = try MemoryBenchmark(recipe: memoryRecipe, model: model, executable: MemoryBenchmark.ownExecutable()).run()
                try BenchmarkOutput.write(result, to: output + "/memory.json")
            }
        }
    }
}
